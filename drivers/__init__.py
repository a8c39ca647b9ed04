"""Source-meter drivers on PyVISA; the same code for real and simulated instruments."""

from .errors import (
    ConnectionFailed,
    DeviceBusy,
    InstrumentError,
    InstrumentTimeout,
    LabrunError,
    LimitError,
    WrongInstrument,
)
from .factory import TERMINATIONS, Termination, open_sourcemeter
from .finding import Found, identify_at
from .instrument import Instrument
from .keithley2400 import Keithley2400
from .keithley2450 import Keithley2450
from .keithley2600 import Keithley2600
from .keysight_b2900 import KeysightB2901, KeysightB2902
from .locks import DeviceLock, device_lock_for, lock_directory
from .registry import MODELS, REGISTRY, Model, model_answering, model_named, register, unregister
from .sourcemeter import SourceMeter
from .specs import Limits, Ranges, Reading, Scpi, Variant
from .state import SourceMode
from .visa import BAUD_RATES, BaudRate, backend_for, check_address, is_serial, list_resources, open_resource

__all__ = [
    "BAUD_RATES",
    "MODELS",
    "REGISTRY",
    "TERMINATIONS",
    "BaudRate",
    "ConnectionFailed",
    "DeviceBusy",
    "DeviceLock",
    "Found",
    "Instrument",
    "InstrumentError",
    "InstrumentTimeout",
    "Keithley2400",
    "Keithley2450",
    "Keithley2600",
    "KeysightB2901",
    "KeysightB2902",
    "LabrunError",
    "LimitError",
    "Limits",
    "Model",
    "Ranges",
    "Reading",
    "Scpi",
    "SourceMeter",
    "SourceMode",
    "Termination",
    "Variant",
    "WrongInstrument",
    "backend_for",
    "check_address",
    "device_lock_for",
    "identify_at",
    "is_serial",
    "list_resources",
    "lock_directory",
    "model_answering",
    "model_named",
    "open_resource",
    "open_sourcemeter",
    "register",
    "unregister",
]
