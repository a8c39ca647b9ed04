"""Helpers shared by the tests."""

from __future__ import annotations

from labrun.drivers import SourceMeter
from labrun.sim_devices import SourceMeterTwin, twin_of

#: model -> address on the default simulated bench
BENCH = {
    "keithley2400": "GPIB0::24::INSTR",
    "keithley2450": "GPIB0::18::INSTR",
    "keysight_b2901": "GPIB0::23::INSTR",
}


def twin(driver: SourceMeter) -> SourceMeterTwin:
    """The simulated instrument behind a driver."""
    return twin_of(driver.instrument.resource)
