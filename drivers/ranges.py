"""Source and measure ranges with autorange: the same SCPI on every model, each model's
own table (its ``ranges``). The instrument picks the range that holds the value given,
so a range reads back at least the value set."""

from __future__ import annotations

from .settings import Range, Switch


class RangeSettings:
    """The range settings a source-meter shares (a mixin of settings only)."""

    voltage_source_range = Range(
        ":SOUR:VOLT:RANG {value}",
        ":SOUR:VOLT:RANG?",
        table="voltage_source",
        unit="V",
        doc="Source range, V.",
    )
    voltage_source_autorange = Switch(
        ":SOUR:VOLT:RANG:AUTO {value}", ":SOUR:VOLT:RANG:AUTO?", doc="Auto source range."
    )
    current_source_range = Range(
        ":SOUR:CURR:RANG {value}",
        ":SOUR:CURR:RANG?",
        table="current_source",
        unit="A",
        doc="Source range, A.",
    )
    current_source_autorange = Switch(
        ":SOUR:CURR:RANG:AUTO {value}", ":SOUR:CURR:RANG:AUTO?", doc="Auto source range."
    )
    voltage_measure_range = Range(
        ":SENS:VOLT:RANG {value}",
        ":SENS:VOLT:RANG?",
        table="voltage_measure",
        unit="V",
        doc="Measure range, V.",
    )
    voltage_measure_autorange = Switch(
        ":SENS:VOLT:RANG:AUTO {value}", ":SENS:VOLT:RANG:AUTO?", doc="Autorange."
    )
    current_measure_range = Range(
        ":SENS:CURR:RANG {value}",
        ":SENS:CURR:RANG?",
        table="current_measure",
        unit="A",
        doc="Measure range, A.",
    )
    current_measure_autorange = Switch(
        ":SENS:CURR:RANG:AUTO {value}", ":SENS:CURR:RANG:AUTO?", doc="Autorange."
    )
