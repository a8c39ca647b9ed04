"""A time trace: repeated readings at one fixed source level — traces to analyse."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from labrun.drivers import SourceMeter
from labrun.experiments.engine import Point
from labrun.experiments.experiment import Experiment
from labrun.experiments.iv_sweep import Mode, check_sweep_limits, prepare_source, units_of
from labrun.experiments.storage import Saving
from labrun.experiments.units import Quantity, to_si


class TimeTrace(Experiment):
    """``num_points`` readings at ``level`` (V or A by ``mode``), one every ``interval`` s.

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
        *,
        level: Quantity,
        num_points: int,
        compliance: Quantity,
        interval: Quantity = 0.0,
        mode: Mode = "voltage",
        max_voltage: float | None = None,
        max_current: float | None = None,
        save: Saving | None = None,
    ) -> None:
        level_unit, limit_unit = units_of(mode)
        level, compliance = to_si(level, level_unit), to_si(compliance, limit_unit)  # "1 V" as in YAML
        interval = to_si(interval, "s")
        super().__init__(instrument, save=save)
        self.smu: SourceMeter = instrument
        if int(num_points) != num_points or num_points < 2:
            raise ValueError(f"num_points must be a whole number >= 2, got {num_points}")
        if not interval >= 0:
            raise ValueError(f"interval must be >= 0 s, got {interval}")
        self.level, self.num_points, self.interval = float(level), int(num_points), float(interval)
        self.compliance, self.mode = float(compliance), mode
        check_sweep_limits(
            self.smu.model,
            self.smu.limits,
            mode=mode,
            extreme=abs(self.level),
            compliance=self.compliance,
            max_voltage=max_voltage,
            max_current=max_current,
        )

    def total_steps(self) -> int:
        return self.num_points

    def describe(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "num_points": self.num_points,
            "interval": self.interval,
            "compliance": self.compliance,
            "mode": self.mode,
        }

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
