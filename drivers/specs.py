"""What a model declares, as data: its limits, its ranges, its SCPI, and what a reading is."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from .errors import LimitError


def check_range(what: str, value: float, low: float, high: float, unit: str) -> float:
    """``value`` as float, or :class:`LimitError` naming the allowed range."""
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise LimitError(f"{what} {value:g} {unit} is outside the allowed {low:g} .. {high:g} {unit}")
    return value


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

    @property
    def power(self) -> float:
        """Watts delivered to the load, V x I (what a source-meter's power reading is)."""
        return self.voltage * self.current


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

    def allowed_voltage(self, volts: float, current_limit: float, model: str) -> float:
        """``volts`` as float, or :class:`LimitError`: beyond the range, or beyond the power
        envelope with ``current_limit`` set (a sweep checks each point here)."""
        volts, most = float(volts), self.max_voltage
        if not -most <= volts <= most:  # NaN fails this too: check_range says why
            check_range("voltage", volts, -most, most, "V")
        allowed = self.max_current_at(volts)
        if current_limit > allowed:
            raise LimitError(
                f"{volts:g} V with a current limit of {current_limit:g} A is outside the "
                f"{model}'s power envelope: at {volts:g} V at most {allowed:g} A; lower the limit first"
            )
        return volts

    def allowed_current(self, amps: float, voltage_limit: float, model: str) -> float:
        """``amps`` as float, or :class:`LimitError` (as :meth:`allowed_voltage`)."""
        amps, most = float(amps), self.max_current
        if not -most <= amps <= most:  # NaN fails this too: check_range says why
            check_range("current", amps, -most, most, "A")
        allowed = self.max_voltage_at(amps)
        if voltage_limit > allowed:
            raise LimitError(
                f"{amps:g} A with a voltage limit of {voltage_limit:g} V is outside the "
                f"{model}'s power envelope: at {amps:g} A at most {allowed:g} V; lower the limit first"
            )
        return amps


@dataclass(frozen=True)
class Ranges:
    """The smallest and largest range of each function (datasheet), as (low, high)."""

    voltage_source: tuple[float, float]
    current_source: tuple[float, float]
    voltage_measure: tuple[float, float]
    current_measure: tuple[float, float]


@dataclass(frozen=True)
class Variant:
    """A model of a family that differs from the family's driver only in data: one entry
    of the family's table, and all it takes to add the model (its driver class is derived
    from the family's, its twin is the family's twin answering ``identity``).

    ``identity`` is what its ``*IDN?`` answers: its twin answers it, and its driver accepts
    an instrument whose answer names the same model (the family's own driver accepts the
    whole family). Numbers from the datasheet; where one is from memory, the family's
    table says so.
    """

    name: str  # as configs, scripts and bench files name it
    identity: str
    limits: Limits
    ranges: Ranges
    #: where the default simulated bench puts its twins
    addresses: tuple[str, ...]
    #: source-measure channels, where it differs from the family's
    channels: int | None = None


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
    #: answers the elements of each reading ("VOLT,CURR,RES"); empty: the reading query
    #: names them itself (the 2450's)
    elements_query: str = ""
    #: resistance added to each reading (its third value), and taken away again; empty: the
    #: model's readings do not carry it
    resistance_on: tuple[str, ...] = ()
    resistance_off: tuple[str, ...] = ()
