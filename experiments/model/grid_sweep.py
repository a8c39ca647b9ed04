"""Grid sweeps over several source-meters (or channels): outer axes step, the inner one
sweeps; a transistor's output and transfer curves are two presets of it.

Each source-meter in the grid is a :class:`Terminal`, named for what it is wired to
(``gate``, ``drain``): the names become the data file's columns (``gate_voltage``,
``drain_current``, ``drain_index``). Terminals are switched on in the order given and
shut down in the reverse order, each ramped to zero: the drain before the gate.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labrun.drivers import Reading, SourceMeter
from labrun.experiments.engine import PauseMode, Point
from labrun.experiments.model.experiment import Experiment
from labrun.experiments.model.parameters import Mode, units_of
from labrun.experiments.model.sourcing import (
    SweepKind,
    check_hardware_sweep,
    check_sweep_limits,
    instrument_readings,
    prepare_source,
)
from labrun.experiments.storage import Saving

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Terminal:
    """One source-meter channel of a grid: what it sources, its compliance, and the level
    it holds while no axis sweeps it (``bias``). ``measured``: its voltage and current
    are columns of every point."""

    name: str
    smu: SourceMeter
    compliance: float
    mode: Mode = "voltage"
    bias: float = 0.0
    measured: bool = True

    def source(self, level: float) -> None:
        (self.smu.set_voltage if self.mode == "voltage" else self.smu.set_current)(level)


@dataclass(frozen=True)
class Axis:
    """The levels one terminal steps through (V or A, by its mode)."""

    terminal: str
    levels: tuple[float, ...]


def levels_between(start: float, stop: float, points: int) -> tuple[float, ...]:
    """``points`` evenly spaced levels, as intended (0.9, not linspace's 0.8999999999999999)."""
    return tuple(float(f"{x:.12g}") for x in np.linspace(start, stop, points))


class GridSweep(Experiment):
    """Every combination of the axes' levels: the last axis is swept for each step of the
    others (``axes`` outer first). At each point every measured terminal is read.

    ``delay``: settling time after the inner level is set (interruptible).
    ``sweep="hardware"``: the inner axis is an instrument-side sweep (its delay the
    instrument's source delay, polled every ``poll_interval`` s); the other terminals are
    then read once per inner sweep, just before it starts, and their columns repeat that
    reading for the sweep's points.
    ``plot``: the columns a view draws (x, y); curves are grouped by the outer axes.
    """

    name = "grid_sweep"

    def __init__(
        self,
        terminals: Sequence[Terminal],
        axes: Sequence[Axis],
        *,
        delay: float = 0.0,
        sweep: SweepKind = "stepped",
        poll_interval: float = 0.05,
        plot: tuple[str, str] | None = None,
        log_current: bool = False,
        name: str | None = None,
        save: Saving | None = None,
        max_voltage: float | None = None,
        max_current: float | None = None,
        pause: PauseMode = "hold",
    ) -> None:
        if name is not None:
            self.name = name
        self.pause_mode = pause
        self.terminals = tuple(terminals)
        by_name = {t.name: t for t in self.terminals}
        if len(by_name) != len(self.terminals) or not self.terminals:
            raise ValueError("a grid needs terminals with distinct names")
        if len({id(t.smu) for t in self.terminals}) != len(self.terminals):
            raise ValueError("two terminals on one source-meter channel")
        self.axes = tuple(Axis(a.terminal, tuple(float(x) for x in a.levels)) for a in axes)
        swept = [a.terminal for a in self.axes]
        if not self.axes or len(set(swept)) != len(swept) or not set(swept) <= set(by_name):
            raise ValueError(f"axes must sweep distinct terminals among {list(by_name)}, got {swept}")
        if any(not a.levels for a in self.axes):
            raise ValueError("every axis needs at least one level")
        if not delay >= 0 or not poll_interval > 0:
            raise ValueError(f"delay must be >= 0 s and poll_interval > 0 s, got {delay}, {poll_interval}")
        if sweep not in ("stepped", "hardware"):
            raise ValueError(f"sweep must be 'stepped' or 'hardware', got {sweep!r}")
        self.delay, self.sweep, self.poll_interval = float(delay), sweep, float(poll_interval)
        self.by_name = by_name
        for terminal in self.terminals:
            levels = self.levels_of(terminal.name)
            check_sweep_limits(
                f"{terminal.smu.model} ({terminal.name})",
                terminal.smu.limits,
                mode=terminal.mode,
                extreme=max(abs(x) for x in levels),
                compliance=terminal.compliance,
                max_voltage=max_voltage,
                max_current=max_current,
            )
        if sweep == "hardware":
            check_hardware_sweep(by_name[self.axes[-1].terminal].smu, len(self.axes[-1].levels))
        self.columns = self._columns()
        inner = by_name[self.axes[-1].terminal]
        default_y = next((f"{t.name}_current" for t in self.terminals if t.measured and t is not inner), None)
        sourced = "voltage" if inner.mode == "voltage" else "current"
        self.plot_axes = plot or (
            f"{inner.name}_{sourced}" if inner.measured else f"{inner.name}_source",
            default_y or f"{inner.name}_current",
        )
        if unknown := [c for c in self.plot_axes if c not in self.columns]:
            raise ValueError(f"plot: no column {unknown[0]!r}; the grid has {list(self.columns)}")
        if sweep == "hardware" and not self.plot_axes[1].startswith(f"{inner.name}_"):
            raise ValueError(
                f"sweep='hardware' times only the swept channel's readings ({inner.name}); "
                f"{self.plot_axes[1]} is read on another channel, once per curve: use sweep='stepped'"
            )
        #: the columns whose values tell the curves apart (one curve per outer step)
        self.family = tuple(f"{a.terminal}_source" for a in self.axes[:-1])
        self.log_current = log_current
        super().__init__(self.terminals[0].smu, save=save, instruments=[t.smu for t in self.terminals[1:]])

    def _columns(self) -> dict[str, str]:
        columns: dict[str, str] = {}
        for axis in self.axes:
            columns[f"{axis.terminal}_index"] = ""
            columns[f"{axis.terminal}_source"] = units_of(self.by_name[axis.terminal].mode)[0]
        for terminal in self.terminals:
            if terminal.measured:
                columns[f"{terminal.name}_voltage"] = "V"
                columns[f"{terminal.name}_current"] = "A"
        columns["timestamp"] = "s"
        columns["in_compliance"] = ""
        return columns

    def levels_of(self, terminal: str) -> tuple[float, ...]:
        """The levels a terminal takes: its axis's, or its bias alone."""
        for axis in self.axes:
            if axis.terminal == terminal:
                return axis.levels
        return (self.by_name[terminal].bias,)

    def total_steps(self) -> int:
        return int(np.prod([len(a.levels) for a in self.axes]))

    def describe(self) -> dict[str, Any]:
        return {
            "terminals": [
                {
                    "name": t.name,
                    "instrument": t.smu.name,
                    "mode": t.mode,
                    "compliance": t.compliance,
                    "bias": t.bias,
                }
                for t in self.terminals
            ],
            "axes": [{"terminal": a.terminal, "levels": list(a.levels)} for a in self.axes],
            "delay": self.delay,
            "sweep": self.sweep,
            "order": "on: " + ", ".join(t.name for t in self.terminals) + "; off: reversed",
        }

    def pause_refused(self) -> str:
        if self.sweep == "hardware":
            return "its inner axis is an instrument-side sweep (stop it, or use sweep: stepped)"
        return ""

    def roles(self) -> dict[str, SourceMeter]:
        """Each terminal's source-meter by the terminal's name (gate, drain)."""
        return {t.name: t.smu for t in self.terminals}

    # ------------------------------------------------------------------ measuring

    def setup(self) -> None:
        """Each terminal off, its mode, compliance and first level set, then on: in order."""
        for terminal in self.terminals:
            prepare_source(terminal.smu, terminal.mode, self.levels_of(terminal.name)[0], terminal.compliance)

    def steps(self) -> Iterator[Point]:
        outer, inner = self.axes[:-1], self.axes[-1]
        inner_terminal = self.by_name[inner.terminal]
        for indices in itertools.product(*(range(len(a.levels)) for a in outer)):
            where: dict[str, float] = {}
            for axis, k in zip(outer, indices, strict=True):
                self.by_name[axis.terminal].source(axis.levels[k])
                where[f"{axis.terminal}_index"], where[f"{axis.terminal}_source"] = k, axis.levels[k]
            if self.sweep == "hardware":
                yield from self._instrument_curve(where, inner, inner_terminal)
                continue
            for j, level in enumerate(inner.levels):
                readings = self._stepped_point(inner_terminal, level)
                if readings is None:
                    return  # stopped while settling: this point is not measured
                yield self._point(
                    {**where, f"{inner.terminal}_index": j, f"{inner.terminal}_source": level}, readings
                )

    def _stepped_point(self, inner: Terminal, level: float) -> dict[str, Reading] | None:
        readings: dict[str, Reading] = {}
        if self.delay > 0 or not inner.measured:
            inner.source(level)
            if self.delay > 0 and self.wait(self.delay):
                return None
        else:  # no settling time: the level and its reading in one checked round trip
            readings[inner.name] = inner.smu.source_and_measure(level)
        for terminal in self.terminals:
            if terminal.measured and terminal.name not in readings:
                readings[terminal.name] = terminal.smu.measure()
        return readings

    def _instrument_curve(self, where: dict[str, float], inner: Axis, terminal: Terminal) -> Iterator[Point]:
        others = {t.name: t.smu.measure() for t in self.terminals if t.measured and t is not terminal}
        for j, reading in instrument_readings(
            self, terminal.smu, list(inner.levels), self.delay, self.poll_interval
        ):
            yield self._point(
                {**where, f"{inner.terminal}_index": j, f"{inner.terminal}_source": inner.levels[j]},
                {**others, terminal.name: reading},
            )
        terminal.source(inner.levels[0])  # the next curve starts where this one did

    def _point(self, where: Mapping[str, float], readings: Mapping[str, Reading]) -> Point:
        point: Point = dict(where)
        clipped = False
        for name, reading in readings.items():
            point[f"{name}_voltage"], point[f"{name}_current"] = reading.voltage, reading.current
            clipped = clipped or reading.in_compliance
        point["timestamp"] = max(r.timestamp for r in readings.values()) if readings else 0.0
        point["in_compliance"] = clipped
        return point

    def teardown(self) -> None:
        """Every terminal ramped down and off, in the reverse order of switching on (the
        drain before the gate); one failing does not keep the others on. The first
        failure is raised once all were tried."""
        failed: Exception | None = None
        for terminal in reversed(self.terminals):
            try:
                terminal.smu.shutdown()
            except Exception as error:
                logger.error("%s (%s): shutdown failed: %s", terminal.smu.name, terminal.name, error)
                failed = failed or error
        if failed is not None:
            raise failed
