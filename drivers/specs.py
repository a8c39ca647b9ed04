"""What a model declares, as data: its limits, its ranges, its SCPI, and what a reading is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Reading(NamedTuple):
    """One measurement: terminal voltage (V), current (A), host time (s since epoch).

    ``in_compliance``: the limited quantity sat at its limit, so the source did not
    reach its level (the current at ``current_limit`` in voltage mode).

    A named tuple, immutable like a frozen dataclass and made in a third of its time
    (one per point of every sweep).
    """

    voltage: float
    current: float
    timestamp: float
    in_compliance: bool = False
    #: ohms, as the instrument computed it, when resistance is measured (else None)
    resistance: float | None = None


@dataclass(frozen=True)
class Limits:
    """What the model can source and limit; the driver refuses anything outside.

    ``envelope``: (|V| up to, |I| allowed) pairs, ascending in voltage — the power
    envelope of the datasheet (e.g. 2400: 1.05 A up to 21 V, 105 mA up to 210 V).
    """

    max_voltage: float
    max_current: float
    current_limit_range: tuple[float, float]
    voltage_limit_range: tuple[float, float]
    envelope: tuple[tuple[float, float], ...]

    def max_current_at(self, voltage: float) -> float:
        for up_to, current in self.envelope:
            if abs(voltage) <= up_to:
                return current
        return 0.0

    def max_voltage_at(self, current: float) -> float:
        allowed = [up_to for up_to, limit in self.envelope if abs(current) <= limit]
        return max(allowed, default=0.0)


@dataclass(frozen=True)
class Ranges:
    """The smallest and largest range of each function (datasheet), as (low, high)."""

    voltage_source: tuple[float, float]
    current_source: tuple[float, float]
    voltage_measure: tuple[float, float]
    current_measure: tuple[float, float]


@dataclass(frozen=True)
class Scpi:
    """A model's SCPI: every command the shared driver code sends, by name, in one frozen
    table. ``{value}`` is filled in where a command takes one."""

    source_voltage: str  # switch to sourcing voltage (and measuring current)
    source_current: str
    source_query: str  # answers VOLT or CURR
    voltage_level: str
    current_level: str
    voltage_level_query: str
    current_level_query: str
    current_limit: str  # the compliance when sourcing voltage
    voltage_limit: str
    current_limit_query: str
    voltage_limit_query: str
    #: one reading of the terminals, answered as the driver's ``parse_reading`` expects
    reading_query: str
    output_on: str = ":OUTP ON"
    output_off: str = ":OUTP OFF"
    output_query: str = ":OUTP?"
    #: sent after opening and after ``reset()``, to fix the reading format
    configure: tuple[str, ...] = ()
    #: resistance added to each reading (its third value), and taken away again; empty: the
    #: model's readings do not carry it
    resistance_on: tuple[str, ...] = ()
    resistance_off: tuple[str, ...] = ()
