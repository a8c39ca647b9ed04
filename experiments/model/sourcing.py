"""Sourcing, shared by every experiment: the sweep's limits checked before anything is
written, a source prepared in the order that is always safe, and an instrument-side sweep
read back as it goes.

Why a module of its own: the IV sweep, the time trace and the grid sweep (FET curves) all
source levels on a source-meter; each check and each order is written once, here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Literal

from labrun.drivers import LabrunError, LimitError, Limits, Reading, SourceMeter
from labrun.drivers.settings import check_range

from .experiment import Experiment
from .parameters import Mode, units_of

logger = logging.getLogger(__name__)

#: stepped: the host sets each level and reads (careful, slow curves); hardware: the
#: instrument steps through the levels and buffers the readings (fast curves)
SweepKind = Literal["stepped", "hardware"]


def check_hardware_sweep(smu: SourceMeter | type[SourceMeter], points: int) -> None:
    """Refuse an instrument-side sweep the model cannot do, before anything is written
    (a driver, or its class: configs are checked before anything is opened)."""
    scpi = smu.sweep_scpi
    if scpi is None:
        raise ValueError(f"the {smu.model} has no instrument-side sweep in labrun: use sweep='stepped'")
    if points > scpi.max_points:
        raise LimitError(
            f"an instrument-side sweep of {points} points: the {smu.model} buffers at most "
            f"{scpi.max_points} (a stepped sweep has no such limit)"
        )


def check_sweep_limits(
    model: str,
    limits: Limits,
    *,
    mode: Mode,
    extreme: float,
    compliance: float,
    max_voltage: float | None = None,
    max_current: float | None = None,
) -> None:
    """Refuse a sweep beyond the model's range, power envelope or the user's limits.

    ``extreme`` is the largest |level| of the sweep. Needs no instrument, so configs
    are checked with it before anything is opened.
    """
    if mode not in ("voltage", "current"):
        raise ValueError(f"mode must be 'voltage' or 'current', got {mode!r}")
    voltage_mode = mode == "voltage"
    unit, limit_unit = units_of(mode)
    model_max = limits.max_voltage if voltage_mode else limits.max_current
    user_max = max_voltage if voltage_mode else max_current
    check_range(f"sweep level of the {model}", extreme, 0.0, model_max, unit)
    if user_max is not None:
        check_range("sweep level (your configured limit)", extreme, 0.0, user_max, unit)
    low, high = limits.current_limit_range if voltage_mode else limits.voltage_limit_range
    what = "compliance (current limit)" if voltage_mode else "compliance (voltage limit)"
    check_range(what, compliance, low, high, limit_unit)
    user_limit = max_current if voltage_mode else max_voltage
    if user_limit is not None:
        check_range("compliance (your configured limit)", compliance, low, user_limit, limit_unit)
    allowed = limits.max_current_at(extreme) if voltage_mode else limits.max_voltage_at(extreme)
    if compliance > allowed:
        raise LimitError(
            f"a {compliance:g} {limit_unit} compliance at {extreme:g} {unit} is outside the "
            f"{model}'s power envelope (at most {allowed:g} {limit_unit} there)"
        )


def prepare_source(smu: SourceMeter, mode: Mode, level: float, compliance: float) -> None:
    """Output off, mode, compliance, first level, output on: in the order that is always safe."""
    smu.output_off()
    if mode == "voltage":
        smu.source_voltage()
        smu.set_current_limit(compliance)
        smu.set_voltage(level)
    else:
        smu.source_current()
        smu.set_voltage_limit(compliance)
        smu.set_current(level)
    smu.output_on()


def instrument_readings(
    experiment: Experiment, smu: SourceMeter, levels: list[float], delay: float, poll_interval: float
) -> Iterator[tuple[int, Reading]]:
    """(step, reading) of an instrument-side sweep through ``levels``, as they come.

    The instrument steps the source and fills its buffer; polled every ``poll_interval``
    s (the experiment's stoppable wait), new readings read back as they come. A stop
    aborts it at once and keeps every reading taken; however it ends, the source is back
    to fixed levels.
    """
    smu.start_sweep(levels, delay=delay)
    taken, complete = 0, False
    try:
        while taken < len(levels):
            count = smu.sweep_count()
            for reading in smu.sweep_readings(taken, count):
                yield taken, reading
                taken += 1
            if taken < len(levels) and experiment.wait(poll_interval):
                smu.abort_sweep()  # stopped: the instrument stops stepping now
                for reading in smu.sweep_readings(taken, smu.sweep_count()):
                    yield taken, reading  # taken before the abort
                    taken += 1
                break
        complete = True
    finally:
        if not complete:  # failed, or the run ended mid-chunk
            try:
                smu.abort_sweep()
            except LabrunError as error:
                logger.warning("%s: aborting the instrument's sweep failed: %s", smu.name, error)
        smu.end_sweep(taken)
