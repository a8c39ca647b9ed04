"""The IV sweep: step the source, wait, measure, keep every point; leave the output off."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from labrun.drivers import LimitError, SourceMeter
from labrun.drivers.sourcemeter import check_range

from .experiment import Experiment, Saving

Mode = Literal["voltage", "current"]


class IVSweep(Experiment):
    """Sweep the source from ``start`` to ``stop`` in ``num_points`` steps (SI units).

    At each step: set the level, wait ``delay`` (interruptible), measure. ``mode``
    chooses what is sourced (``compliance`` is then the current or voltage limit);
    ``return_sweep`` goes back from ``stop`` to ``start`` too. Every level is checked
    against the instrument's limits (and ``max_voltage``/``max_current`` if given)
    when the sweep is made, before anything is written.
    """

    name = "iv_sweep"
    columns: Mapping[str, str] = MappingProxyType(
        {"step": "", "source": "V", "voltage": "V", "current": "A", "timestamp": "s"}
    )

    def __init__(
        self,
        instrument: SourceMeter,
        *,
        start: float,
        stop: float,
        num_points: int,
        delay: float = 0.0,
        compliance: float,
        return_sweep: bool = False,
        mode: Mode = "voltage",
        max_voltage: float | None = None,
        max_current: float | None = None,
        save: Saving | None = None,
    ) -> None:
        self.columns = {**self.columns, "source": "V" if mode == "voltage" else "A"}
        super().__init__(instrument, save=save)
        self.smu: SourceMeter = instrument
        if mode not in ("voltage", "current"):
            raise ValueError(f"mode must be 'voltage' or 'current', got {mode!r}")
        if int(num_points) != num_points or num_points < 1:
            raise ValueError(f"num_points must be a whole number >= 1, got {num_points}")
        if num_points > 1 and start == stop:
            raise ValueError(f"start equals stop ({start:g}) with num_points={num_points}: nothing to sweep")
        if not delay >= 0:
            raise ValueError(f"delay must be >= 0 s, got {delay}")
        self.start, self.stop_level, self.num_points = float(start), float(stop), int(num_points)
        self.delay, self.compliance, self.mode = float(delay), float(compliance), mode
        self.return_sweep = return_sweep
        self.levels = np.linspace(self.start, self.stop_level, self.num_points)
        if return_sweep and self.num_points > 1:
            self.levels = np.concatenate([self.levels, self.levels[-2::-1]])
        self._check_limits(max_voltage, max_current)

    def _check_limits(self, max_voltage: float | None, max_current: float | None) -> None:
        limits = self.smu.limits
        unit = "V" if self.mode == "voltage" else "A"
        extreme = float(np.max(np.abs(self.levels)))
        model_max = limits.max_voltage if self.mode == "voltage" else limits.max_current
        user_max = max_voltage if self.mode == "voltage" else max_current
        check_range(f"sweep level of the {self.smu.model}", extreme, 0.0, model_max, unit)
        if user_max is not None:
            check_range("sweep level (your configured limit)", extreme, 0.0, user_max, unit)
        if self.mode == "voltage":
            low, high = limits.current_limit_range
            check_range("compliance (current limit)", self.compliance, low, high, "A")
            if max_current is not None:
                check_range("compliance (your configured limit)", self.compliance, low, max_current, "A")
            allowed = limits.max_current_at(extreme)
            if self.compliance > allowed:
                raise LimitError(
                    f"a {self.compliance:g} A compliance at {extreme:g} V is outside the "
                    f"{self.smu.model}'s power envelope (at most {allowed:g} A there)"
                )
        else:
            low, high = limits.voltage_limit_range
            check_range("compliance (voltage limit)", self.compliance, low, high, "V")
            if max_voltage is not None:
                check_range("compliance (your configured limit)", self.compliance, low, max_voltage, "V")
            allowed = limits.max_voltage_at(extreme)
            if self.compliance > allowed:
                raise LimitError(
                    f"a {self.compliance:g} V compliance at {extreme:g} A is outside the "
                    f"{self.smu.model}'s power envelope (at most {allowed:g} V there)"
                )

    def total_steps(self) -> int:
        return len(self.levels)

    def describe(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "stop": self.stop_level,
            "num_points": self.num_points,
            "delay": self.delay,
            "compliance": self.compliance,
            "mode": self.mode,
            "return_sweep": self.return_sweep,
        }

    def setup(self) -> None:
        smu = self.smu
        smu.output_off()
        if self.mode == "voltage":
            smu.source_voltage()
            smu.set_current_limit(self.compliance)
            smu.set_voltage(float(self.levels[0]))
        else:
            smu.source_current()
            smu.set_voltage_limit(self.compliance)
            smu.set_current(float(self.levels[0]))
        smu.output_on()

    def steps(self) -> Iterator[Sequence[float]]:
        source = self.smu.set_voltage if self.mode == "voltage" else self.smu.set_current
        for step, level in enumerate(self.levels):
            source(float(level))
            if self.wait(self.delay):
                return  # stopped while waiting: this point is not measured
            reading = self.smu.measure()
            yield (step, float(level), reading.voltage, reading.current, reading.timestamp)

    def teardown(self) -> None:
        self.smu.shutdown()
