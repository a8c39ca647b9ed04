"""Instrument-side (hardware) sweeps: the instrument steps its source through a list of
levels, a reading a step into its buffer, while the bus is free.

Why: a stepped sweep costs a bus round trip per point; here the host sends the list once,
starts it with one command, polls the buffer's count at an interval and reads new
readings back in chunks while the sweep runs. ``abort_sweep`` (``:ABORt``) stops it at
once; the readings taken stay in the buffer. Each model gives its SCPI in a
:class:`SweepScpi` table; the SCPI was written from the programming manuals from memory
and is pinned in the tests against the twins, not yet against hardware.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .errors import InstrumentError, LimitError
from .specs import Reading

if TYPE_CHECKING:
    from .instrument import Instrument
    from .state import SourceMode


def values(levels: Sequence[float]) -> str:
    return ",".join(f"{level:.6E}" for level in levels)


def source_list(function: str, levels: Sequence[float], per_command: int = 100) -> list[str]:
    """``:SOUR:LIST:<function>`` with the first ``per_command`` levels, then ``:APP`` for
    the rest (the Keithleys take at most 100 values a command)."""
    chunks = [levels[k : k + per_command] for k in range(0, len(levels), per_command)]
    return [
        f":SOUR:LIST:{function} {values(chunks[0])}",
        *(f":SOUR:LIST:{function}:APP {values(chunk)}" for chunk in chunks[1:]),
    ]


@dataclass(frozen=True)
class SweepScpi:
    """A model's instrument-side sweep, as SCPI built from the levels."""

    #: commands that load ``levels`` (function VOLT or CURR) with ``delay`` s per step,
    #: and arm the buffer; each is confirmed through the error queue
    setup: Callable[[str, list[float], float], list[str]]
    start: str  # one command starts it
    count_query: str  # readings in the buffer so far
    #: readings ``start`` .. ``stop`` (0-based, stop excluded), as the query for them
    data_query: Callable[[int, int], str]
    #: True: ``data_query`` answers every reading so far (slice it); False: just those asked
    data_is_whole_buffer: bool
    abort: str
    #: back to fixed-level sourcing after the sweep
    teardown: Callable[[str], list[str]]
    #: the answer per reading is (level, measured) rather than (voltage, current)
    pairs_are_source_and_reading: bool = False
    #: the longest list and buffer of one sweep
    max_points: int = 2500


class InstrumentSweeps:
    """The sweep methods every source-meter shares (a mixin of ``SourceMeter``)."""

    sweep_scpi: ClassVar[SweepScpi | None] = None
    instrument: Instrument
    _sweep_levels: list[float]

    _resistance: bool
    _sweeping: bool = False

    if TYPE_CHECKING:
        _level: float

        @property
        def name(self) -> str: ...
        @property
        def mode(self) -> SourceMode: ...
        def _allowed_voltage(self, volts: float) -> float: ...
        def _allowed_current(self, amps: float) -> float: ...
        def reading_of(self, voltage: float, current: float, stamp: float) -> Reading: ...

    def _sweep(self) -> SweepScpi:
        if self.sweep_scpi is None:
            raise NotImplementedError(f"{self.name}: no instrument-side sweep for this model")
        return self.sweep_scpi

    def start_sweep(self, levels: Sequence[float], *, delay: float = 0.0) -> None:
        """Load ``levels`` (of the present mode) and start the sweep; returns at once.

        Every level is checked against the model's range and power envelope, and the
        count against its buffer, before anything is written.
        """
        scpi = self._sweep()
        allowed = self._allowed_voltage if self.mode == "voltage" else self._allowed_current
        checked = [allowed(float(level)) for level in levels]
        if not 1 <= len(checked) <= scpi.max_points:
            raise LimitError(f"an instrument-side sweep of {len(checked)} points: 1 .. {scpi.max_points}")
        if not delay >= 0:
            raise LimitError(f"a sweep's source delay must be >= 0 s, got {delay}")
        function = "VOLT" if self.mode == "voltage" else "CURR"
        with self.instrument.io_lock:
            for command in scpi.setup(function, checked, delay):
                self.instrument.write(command)
            self.instrument.write(scpi.start)
        self._sweep_levels = checked
        self._sweeping = True  # until end_sweep: a shutdown aborts it first

    def sweep_count(self) -> int:
        """Readings in the buffer so far."""
        scpi = self._sweep()
        answer = self.instrument.query(scpi.count_query)
        try:
            return int(float(answer))
        except ValueError:
            raise InstrumentError(self.name, scpi.count_query, f"unreadable count {answer!r}") from None

    def sweep_readings(self, start: int, stop: int) -> list[Reading]:
        """Readings ``start`` .. ``stop`` (0-based, ``stop`` excluded) of the sweep in hand."""
        if stop <= start:
            return []
        scpi = self._sweep()
        query = scpi.data_query(start, stop)
        text = self.instrument.query(query)
        stamp = time.time()
        try:
            numbers = [float(field) for field in text.split(",")]
        except ValueError:
            raise InstrumentError(self.name, query, f"unreadable buffer {text[:80]!r}") from None
        width = 3 if self._resistance and not scpi.pairs_are_source_and_reading else 2
        rows = [numbers[k : k + width] for k in range(0, len(numbers) - width + 1, width)]
        if scpi.data_is_whole_buffer:
            rows = rows[start:stop]
        if len(rows) != stop - start or len(numbers) % width:
            raise InstrumentError(self.name, query, f"{len(numbers)} values for {stop - start} readings")
        if scpi.pairs_are_source_and_reading and self.mode == "current":
            rows = [[measured, level] for level, measured in rows]
        readings = [self.reading_of(row[0], row[1], stamp) for row in rows]
        if width == 3:
            readings = [r._replace(resistance=row[2]) for r, row in zip(readings, rows, strict=True)]
        return readings

    def abort_sweep(self) -> None:
        """Stop the sweep where it is (its readings stay in the buffer)."""
        self.instrument.write(self._sweep().abort)

    def end_sweep(self, reached: int) -> None:
        """Back to fixed-level sourcing; the driver's level is the last one reached."""
        scpi = self._sweep()
        levels = getattr(self, "_sweep_levels", [])
        if levels:
            self._level = levels[min(max(reached, 1), len(levels)) - 1]
        function = "VOLT" if self.mode == "voltage" else "CURR"
        with self.instrument.io_lock:
            for command in scpi.teardown(function):
                self.instrument.write(command)
        self._sweeping = False
