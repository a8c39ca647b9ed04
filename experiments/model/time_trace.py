"""A time trace: repeated readings at one fixed source level — traces to analyse."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import Field

from labrun.drivers import SourceMeter
from labrun.experiments.engine import PauseMode, Point
from labrun.experiments.model.experiment import Experiment
from labrun.experiments.model.parameters import (
    MAX_POINTS,
    Limit,
    Mode,
    Parameters,
    Seconds,
    SourceLevel,
)
from labrun.experiments.model.sourcing import check_sweep_limits, prepare_source
from labrun.experiments.storage import Saving


class TimeTraceParameters(Parameters):
    """A time trace: ``num_points`` readings at one ``level``, one every ``interval``."""

    mode: Mode = Field("voltage", description="what is sourced: voltage (compliance in A) or current")
    level: SourceLevel = Field(description="the source level, held for the whole trace")
    num_points: int = Field(gt=1, le=MAX_POINTS, description="readings")
    interval: Seconds = Field(0.0, ge=0, le=86_400, description="between readings (0: as fast as it answers)")
    compliance: Limit = Field(description="the limit of the other quantity (current in voltage mode)")
    pause: PauseMode = Field("hold", description="a pause holds the level, or (safe) turns the output off")

    @property
    def extreme(self) -> float:
        return abs(self.level)

    @property
    def readings(self) -> int:
        return self.num_points


class TimeTrace(Experiment):
    """``num_points`` readings at ``level`` (V or A by ``mode``), one every ``interval`` s
    (the parameters are :class:`TimeTraceParameters`).

    With ``interval=0`` readings come as fast as the instrument answers; the ``time``
    column (s since the first reading) gives the actual sample times for spectra.
    """

    name = "time_trace"
    plot_axes = ("time", "current")
    columns: Mapping[str, str] = MappingProxyType(
        {"step": "", "time": "s", "voltage": "V", "current": "A", "timestamp": "s", "in_compliance": ""}
    )

    def __init__(
        self,
        instrument: SourceMeter,
        parameters: TimeTraceParameters | None = None,
        *,
        max_voltage: float | None = None,
        max_current: float | None = None,
        save: Saving | None = None,
        **values: Any,
    ) -> None:
        params = TimeTraceParameters.given(parameters, values)
        self.parameters = params
        super().__init__(instrument, save=save)
        self.smu: SourceMeter = instrument
        self.level, self.num_points, self.interval = params.level, params.num_points, params.interval
        self.compliance, self.mode, self.pause_mode = params.compliance, params.mode, params.pause
        check_sweep_limits(
            self.smu.model,
            self.smu.limits,
            mode=self.mode,
            extreme=abs(self.level),
            compliance=self.compliance,
            max_voltage=max_voltage,
            max_current=max_current,
        )

    def total_steps(self) -> int:
        return self.num_points

    def describe(self) -> dict[str, Any]:
        return self.parameters.values()

    def setup(self) -> None:
        prepare_source(self.smu, self.mode, self.level, self.compliance)

    def steps(self) -> Iterator[Point]:
        start = time.monotonic()
        for step in range(self.num_points):
            if step and self.wait(self.interval):
                return
            reading = self.smu.measure()
            yield {
                "step": step,
                "time": time.monotonic() - start,
                "voltage": reading.voltage,
                "current": reading.current,
                "timestamp": reading.timestamp,
                "in_compliance": reading.in_compliance,
            }

    def teardown(self) -> None:
        self.smu.shutdown()
