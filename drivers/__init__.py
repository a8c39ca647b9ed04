"""Source-meter drivers on PyVISA; the same code for real and simulated instruments."""

from .errors import (
    ConnectionFailed,
    DeviceBusy,
    InstrumentError,
    InstrumentTimeout,
    LabrunError,
    LimitError,
)
from .factory import MODELS, open_sourcemeter
from .instrument import DeviceLock, Instrument
from .keithley2400 import Keithley2400
from .keithley2450 import Keithley2450
from .keysight_b2900 import KeysightB2901
from .sourcemeter import Limits, Reading, SourceMeter, SourceMode
from .visa import backend_for, check_address, list_resources, open_resource

__all__ = [
    "MODELS",
    "ConnectionFailed",
    "DeviceBusy",
    "DeviceLock",
    "Instrument",
    "InstrumentError",
    "InstrumentTimeout",
    "Keithley2400",
    "Keithley2450",
    "KeysightB2901",
    "LabrunError",
    "LimitError",
    "Limits",
    "Reading",
    "SourceMeter",
    "SourceMode",
    "backend_for",
    "check_address",
    "list_resources",
    "open_resource",
    "open_sourcemeter",
]
