"""Instrument-side (hardware) sweeps: the instrument steps its source through a list of
levels, a reading a step into its buffer, while the bus is free.

Why: a stepped sweep costs a bus round trip per point; here the host sends the list once,
starts it with one command, polls the buffer's count at an interval and reads new
readings back in chunks while the sweep runs. ``abort_sweep`` (``:ABORt``) stops it at
once; the readings taken stay in the buffer. Each model gives its SCPI in a
:class:`SweepScpi` table, from which each driver builds its :class:`InstrumentSweep`; the
SCPI was written from the programming manuals from memory and is pinned in the tests
against the twins, not yet against hardware.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import InstrumentError, LimitError
from .specs import Reading
from .state import LEVEL, SourceControl


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
    #: the buffer's readings carry the resistance (a third value) while it is measured
    resistance_in_buffer: bool = True


class SweepHost(SourceControl, Protocol):
    """What an instrument-side sweep needs of its source-meter: its source state, its
    level check, and how it makes a reading of numbers."""

    @property
    def name(self) -> str: ...
    @property
    def measure_resistance(self) -> bool: ...
    def allowed_level(self, level: float) -> float: ...
    def reading_of(self, voltage: float, current: float, stamp: float) -> Reading: ...


class InstrumentSweep:
    """One driver's instrument-side sweep (a part of ``SourceMeter``), built from its
    model's :class:`SweepScpi`."""

    def __init__(self, scpi: SweepScpi, host: SweepHost) -> None:
        self.scpi, self.host = scpi, host
        #: the levels of the sweep in hand (checked), and whether it runs (until ``end``)
        self.levels: list[float] = []
        self.running = False

    def start(self, levels: Sequence[float], *, delay: float = 0.0) -> None:
        """Load ``levels`` (of the present mode) and start the sweep; returns at once.

        Every level is checked against the model's range and power envelope, and the
        count against its buffer, before anything is written.
        """
        scpi, host = self.scpi, self.host
        checked = [host.allowed_level(float(level)) for level in levels]
        if not 1 <= len(checked) <= scpi.max_points:
            raise LimitError(f"an instrument-side sweep of {len(checked)} points: 1 .. {scpi.max_points}")
        if not delay >= 0:
            raise LimitError(f"a sweep's source delay must be >= 0 s, got {delay}")
        function = "VOLT" if host.mode == "voltage" else "CURR"
        with host.instrument.io_lock:
            for command in scpi.setup(function, checked, delay):
                host.instrument.write(command)
            host.instrument.write(scpi.start)
        self.levels = checked
        self.running = True  # until end: a shutdown aborts it first

    def count(self) -> int:
        """Readings in the buffer so far."""
        query = self.scpi.count_query
        answer = self.host.instrument.query(query)
        try:
            return int(float(answer))
        except ValueError:
            raise InstrumentError(self.host.name, query, f"unreadable count {answer!r}") from None

    def readings(self, start: int, stop: int) -> list[Reading]:
        """Readings ``start`` .. ``stop`` (0-based, ``stop`` excluded) of the sweep in hand."""
        if stop <= start:
            return []
        scpi, host = self.scpi, self.host
        query = scpi.data_query(start, stop)
        text = host.instrument.query(query)
        stamp = time.time()
        try:
            numbers = [float(field) for field in text.split(",")]
        except ValueError:
            raise InstrumentError(host.name, query, f"unreadable buffer {text[:80]!r}") from None
        carried = scpi.resistance_in_buffer and not scpi.pairs_are_source_and_reading
        width = 3 if host.measure_resistance and carried else 2
        rows = [numbers[k : k + width] for k in range(0, len(numbers) - width + 1, width)]
        if scpi.data_is_whole_buffer:
            rows = rows[start:stop]
        if len(rows) != stop - start or len(numbers) % width:
            raise InstrumentError(host.name, query, f"{len(numbers)} values for {stop - start} readings")
        if scpi.pairs_are_source_and_reading and host.mode == "current":
            rows = [[measured, level] for level, measured in rows]
        readings = [host.reading_of(row[0], row[1], stamp) for row in rows]
        if width == 3:
            readings = [r._replace(resistance=row[2]) for r, row in zip(readings, rows, strict=True)]
        return readings

    def abort(self) -> None:
        """Stop the sweep where it is (its readings stay in the buffer)."""
        self.host.instrument.write(self.scpi.abort)

    def end(self, reached: int) -> None:
        """Back to fixed-level sourcing; the driver's level is the last one ``reached``."""
        if self.levels:
            LEVEL.keep(self.host, self.levels[min(max(reached, 1), len(self.levels)) - 1])
        function = "VOLT" if self.host.mode == "voltage" else "CURR"
        with self.host.instrument.io_lock:
            for command in self.scpi.teardown(function):
                self.host.instrument.write(command)
        self.running = False
