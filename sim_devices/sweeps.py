"""Instrument-side sweeps in the twins: the source steps through a list, one reading a
step into the buffer, in the instrument's own time.

Why computed lazily: a real sweep runs while the bus is free, so a client polls the
buffer and reads it back in chunks while points are still being taken. Here a sweep is
its start time and its time per point (source delay + reading, from the time model;
zero without one, so it is done at once); whatever is asked of the buffer first collects
the readings that are due by now. An abort freezes the sweep where it got to.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .scpi import ProgramUnit
from .scpi_errors import ScpiError

if TYPE_CHECKING:
    from .scpi_tree import CommandTree
    from .timing import Timing

#: the longest source list and buffer the twins take (B2901A, 2400: 2500 points)
MAX_LIST = 2500

#: where a reading goes: (index, level, voltage, current)
Store = Callable[[int, float | None, float, float], None]


@dataclass
class SweepRun:
    """One instrument-side sweep: started at ``started``, ``per_point`` s a step."""

    channel: int
    function: str  # "voltage" or "current": what steps
    levels: list[float | None]  # None: the level as set (a fixed-level buffer fill)
    started: float
    per_point: float
    store: Store
    collected: int = 0
    aborted: float | None = None

    @property
    def end(self) -> float:
        return self.started + self.per_point * len(self.levels)

    def due(self, now: float) -> int:
        """Steps completed by ``now`` (all of them at once without a time model)."""
        if self.per_point <= 0:
            return len(self.levels)
        until = now if self.aborted is None else min(now, self.aborted)
        return max(0, min(len(self.levels), int((until - self.started) / self.per_point + 1e-9)))

    @property
    def running(self) -> bool:
        return self.collected < len(self.levels) and self.aborted is None


class SourceLists:
    """What a source-meter twin needs for list sweeps (a mixin of :class:`SourceMeterTwin`)."""

    sweep: SweepRun | None = None
    #: each channel's source lists, by function (set by the twin)
    source_lists: dict[tuple[int, str], list[float]]
    # what it uses of the twin it is mixed into
    state: dict[tuple[int, str], Any]
    tree: CommandTree
    timing: Timing | None
    _clock: float

    if TYPE_CHECKING:

        def reading_time(self, channel: int = 1) -> float: ...
        def sourced(self, channel: int = 1) -> str: ...
        def measured_at(self, channel: int = 1, level: float | None = None) -> tuple[float, float]: ...

    def set_list(self, unit: ProgramUnit, function: str, *, append: bool = False) -> None:
        """``:SOURce:LIST:VOLTage v1,v2,...`` (``:APPend`` adds to it): numbers, in range."""
        try:
            values = [float(p) for p in unit.params]
        except ValueError:
            raise ScpiError(-104, f"a {function} list is numbers") from None
        if not values:
            raise ScpiError(-109, f"an empty {function} list")
        high = self.tree.level_limit(function)
        if any(abs(v) > high for v in values):
            raise ScpiError(-222, f"a {function} list value beyond ±{high:g}")
        key = (unit.channel, function)
        values = [*self.source_lists.get(key, []), *values] if append else values
        if len(values) > MAX_LIST:
            raise ScpiError(-223, f"a {function} list of {len(values)} points: at most {MAX_LIST}")
        self.source_lists[key] = values

    def get_list(self, channel: int, function: str) -> list[float]:
        return self.source_lists.get((channel, function), [])

    def start_sweep(self, channel: int, levels: Sequence[float | None], delay: float, store: Store) -> None:
        """Start stepping the source through ``levels`` now (after the message's work so far)."""
        if self.sweep is not None:
            self.collect()
            if self.sweep.running:
                raise ScpiError(-213, "init ignored: a sweep is running")
        if not levels:
            raise ScpiError(-221, "no source list to sweep")
        per_point = 0.0
        started = time.monotonic()
        if self.timing is not None:
            per_point = delay + self.reading_time(channel)
            started = self._clock
        self.sweep = SweepRun(channel, self.sourced(channel), list(levels), started, per_point, store)

    def collect(self) -> None:
        """Take the readings that are due by now into the buffer; the source follows."""
        sweep = self.sweep
        if sweep is None:
            return
        due = sweep.due(time.monotonic())
        for k in range(sweep.collected, due):
            level = sweep.levels[k]
            voltage, current = self.measured_at(sweep.channel, level)
            sweep.store(k, level, voltage, current)
        if due > sweep.collected and (last := sweep.levels[due - 1]) is not None:
            self.state[(sweep.channel, sweep.function)] = last
        sweep.collected = due

    def abort_sweep(self) -> None:
        """``:ABORt``: the sweep ends where it got to; what was measured stays in the buffer."""
        if self.sweep is not None and self.sweep.running:
            self.collect()
            self.sweep.aborted = time.monotonic()

    def wait_for_sweep(self) -> None:
        """``*OPC?``/``*WAI`` during a sweep: the answer waits for its end (time model only)."""
        sweep = self.sweep
        if sweep is not None and sweep.running and self.timing is not None:
            self._clock = max(self._clock, sweep.end)

    def command_abort(self, unit: ProgramUnit) -> None:
        self.abort_sweep()

    def query_operation_complete(self, unit: ProgramUnit) -> str:
        self.wait_for_sweep()
        return "1"

    def command_wait(self, unit: ProgramUnit) -> None:
        self.wait_for_sweep()

    def command_list_voltage(self, unit: ProgramUnit) -> None:
        self.set_list(unit, "voltage")

    def command_list_voltage_append(self, unit: ProgramUnit) -> None:
        self.set_list(unit, "voltage", append=True)

    def command_list_current(self, unit: ProgramUnit) -> None:
        self.set_list(unit, "current")

    def command_list_current_append(self, unit: ProgramUnit) -> None:
        self.set_list(unit, "current", append=True)

    def query_list_voltage(self, unit: ProgramUnit) -> str:
        return ",".join(f"{v:+.6E}" for v in self.get_list(unit.channel, "voltage"))

    def query_list_current(self, unit: ProgramUnit) -> str:
        return ",".join(f"{v:+.6E}" for v in self.get_list(unit.channel, "current"))
