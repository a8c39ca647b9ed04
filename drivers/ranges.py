"""Source and measure ranges with autorange: the same SCPI on every model, each model's
own table (its ``ranges``). The instrument picks the range that holds the value given,
so a range reads back at least the value set. Entries of every source-meter's table."""

from __future__ import annotations

from .settings import Range, Switch

VOLTAGE_SOURCE_RANGE = Range(
    ":SOUR:VOLT:RANG {value}", ":SOUR:VOLT:RANG?", table="voltage_source", unit="V", doc="Source range, V."
)
VOLTAGE_SOURCE_AUTORANGE = Switch(
    ":SOUR:VOLT:RANG:AUTO {value}", ":SOUR:VOLT:RANG:AUTO?", doc="Auto source range."
)
CURRENT_SOURCE_RANGE = Range(
    ":SOUR:CURR:RANG {value}", ":SOUR:CURR:RANG?", table="current_source", unit="A", doc="Source range, A."
)
CURRENT_SOURCE_AUTORANGE = Switch(
    ":SOUR:CURR:RANG:AUTO {value}", ":SOUR:CURR:RANG:AUTO?", doc="Auto source range."
)
VOLTAGE_MEASURE_RANGE = Range(
    ":SENS:VOLT:RANG {value}", ":SENS:VOLT:RANG?", table="voltage_measure", unit="V", doc="Measure range, V."
)
VOLTAGE_MEASURE_AUTORANGE = Switch(":SENS:VOLT:RANG:AUTO {value}", ":SENS:VOLT:RANG:AUTO?", doc="Autorange.")
CURRENT_MEASURE_RANGE = Range(
    ":SENS:CURR:RANG {value}", ":SENS:CURR:RANG?", table="current_measure", unit="A", doc="Measure range, A."
)
CURRENT_MEASURE_AUTORANGE = Switch(":SENS:CURR:RANG:AUTO {value}", ":SENS:CURR:RANG:AUTO?", doc="Autorange.")
