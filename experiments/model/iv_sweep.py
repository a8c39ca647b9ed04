"""The IV sweep: step the source, wait, measure, keep every point; leave the output off."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from labrun.drivers import Reading, SourceMeter
from labrun.experiments.engine import PauseMode, Point
from labrun.experiments.model.experiment import Experiment
from labrun.experiments.model.parameters import (
    MAX_POINTS,
    Limit,
    Mode,
    ParameterFieldError,
    Parameters,
    Seconds,
    SourceLevel,
)
from labrun.experiments.model.sourcing import (
    SweepKind,
    check_hardware_sweep,
    check_sweep_limits,
    instrument_readings,
    prepare_source,
)
from labrun.experiments.storage import Saving

Spacing = Literal["linear", "log"]


class IVSweepParameters(Parameters):
    """An IV sweep: the source from ``start`` to ``stop`` in ``num_points`` levels, a
    reading ``delay`` after each; the compliance limits the other quantity."""

    mode: Mode = Field("voltage", description="what is sourced: voltage (compliance in A) or current")
    start: SourceLevel = Field(description="the first level")
    stop: SourceLevel = Field(description="the last level")
    num_points: int = Field(gt=0, le=MAX_POINTS, description="levels from start to stop")
    delay: Seconds = Field(0.0, ge=0, le=86_400, description="settling time before each reading")
    compliance: Limit = Field(description="the limit of the other quantity (current in voltage mode)")
    return_sweep: bool = Field(False, description="back from stop to start as well")
    spacing: Spacing = Field("linear", description="linear or logarithmic steps")
    sweep: SweepKind = Field(
        "stepped",
        description="stepped: the host sets each level; hardware: the instrument steps into its buffer",
    )
    poll_interval: Seconds = Field(
        0.05, gt=0, le=60, description="how often a hardware sweep's buffer is read"
    )
    pause: PauseMode = Field("hold", description="a pause holds the level, or (safe) turns the output off")

    @model_validator(mode="after")
    def consistent(self) -> IVSweepParameters:
        if self.num_points > 1 and self.start == self.stop:
            raise ParameterFieldError(
                "stop", f"stop equals start ({self.start:g}) with {self.num_points} points: nothing to sweep"
            )
        if self.spacing == "log" and not self.start * self.stop > 0:
            raise ParameterFieldError(
                "spacing",
                f"a log sweep needs start and stop of one sign, not zero: {self.start:g} .. {self.stop:g}",
            )
        return self

    @property
    def extreme(self) -> float:
        """The largest |level| of the sweep."""
        return max(abs(self.start), abs(self.stop))

    @property
    def readings(self) -> int:
        return self.num_points + (self.num_points - 1 if self.return_sweep else 0)


class IVSweep(Experiment):
    """Sweep the source from ``start`` to ``stop`` in ``num_points`` steps (SI units, or
    strings with units: ``"-1 V"``); the parameters are :class:`IVSweepParameters`.

    At each step: set the level, wait ``delay`` (interruptible), measure. ``mode``
    chooses what is sourced (``compliance`` is then the current or voltage limit);
    ``return_sweep`` goes back from ``stop`` to ``start`` too. Every level is checked
    against the instrument's limits (and ``max_voltage``/``max_current`` if given)
    when the sweep is made, before anything is written.

    ``spacing="log"`` steps logarithmically. ``sweep="hardware"`` lets the instrument step
    through the levels into its buffer (``delay`` becomes its source delay), polled every
    ``poll_interval`` s: the same points, data file and stop, much faster at short NPLC.
    With ``instrument.measure_resistance`` on, each point carries its ``resistance``.
    """

    name = "iv_sweep"
    plot_axes = ("voltage", "current")
    columns: Mapping[str, str] = MappingProxyType(
        {"step": "", "source": "V", "voltage": "V", "current": "A", "timestamp": "s", "in_compliance": ""}
    )

    def __init__(
        self,
        instrument: SourceMeter,
        parameters: IVSweepParameters | None = None,
        *,
        max_voltage: float | None = None,
        max_current: float | None = None,
        save: Saving | None = None,
        **values: Any,
    ) -> None:
        params = IVSweepParameters.given(parameters, values)
        self.parameters = params
        self.columns = {**self.columns, "source": params.unit_of("start")}
        if instrument.measure_resistance:  # the instrument's ohms ride along with each reading
            self.columns = {**self.columns, "resistance": "ohm"}
        super().__init__(instrument, save=save)
        self.smu: SourceMeter = instrument
        self.start, self.stop_level, self.num_points = params.start, params.stop, params.num_points
        self.delay, self.compliance, self.mode = params.delay, params.compliance, params.mode
        self.return_sweep, self.spacing, self.sweep = params.return_sweep, params.spacing, params.sweep
        self.poll_interval, self.pause_mode = params.poll_interval, params.pause
        space = np.linspace if params.spacing == "linear" else np.geomspace
        # 12 significant digits: the levels as intended (0.9, not linspace's 0.8999999999999999)
        self.levels = np.array(
            [float(f"{x:.12g}") for x in space(self.start, self.stop_level, self.num_points)]
        )
        if self.return_sweep and self.num_points > 1:
            self.levels = np.concatenate([self.levels, self.levels[-2::-1]])
        check_sweep_limits(
            self.smu.model,
            self.smu.limits,
            mode=self.mode,
            extreme=float(np.max(np.abs(self.levels))),
            compliance=self.compliance,
            max_voltage=max_voltage,
            max_current=max_current,
        )
        if self.sweep == "hardware":
            check_hardware_sweep(self.smu, len(self.levels))

    def total_steps(self) -> int:
        return len(self.levels)

    def pause_refused(self) -> str:
        if self.sweep == "hardware":
            return "an instrument-side sweep steps on its own (stop it, or use sweep: stepped)"
        return ""

    def describe(self) -> dict[str, Any]:
        return self.parameters.values()

    def setup(self) -> None:
        prepare_source(self.smu, self.mode, float(self.levels[0]), self.compliance)

    def steps(self) -> Iterator[Point]:
        if self.sweep == "hardware":
            yield from self._instrument_steps()
            return
        source = self.smu.set_voltage if self.mode == "voltage" else self.smu.set_current
        for step, level in enumerate(self.levels.tolist()):  # Python floats, converted once
            if self.delay > 0:
                source(level)
                if self.wait(self.delay):
                    return  # stopped while waiting: this point is not measured
                reading = self.smu.measure()
            else:  # no settling time: level and reading in one checked round trip
                reading = self.smu.source_and_measure(level)
            yield self._point(step, level, reading)

    def _instrument_steps(self) -> Iterator[Point]:
        for step, reading in instrument_readings(
            self, self.smu, self.levels.tolist(), self.delay, self.poll_interval
        ):
            yield self._point(step, float(self.levels[step]), reading)

    def _point(self, step: int, level: float, reading: Reading) -> Point:
        point: Point = {
            "step": step,
            "source": level,
            "voltage": reading.voltage,
            "current": reading.current,
            "timestamp": reading.timestamp,
            "in_compliance": reading.in_compliance,
        }
        if "resistance" in self.columns:
            point["resistance"] = reading.resistance if reading.resistance is not None else float("nan")
        return point

    def teardown(self) -> None:
        self.smu.shutdown()
