"""Simulated twins of the supported source-meters, reachable through pyvisa's ``@labrun``.

Import this package only to inspect or configure twins (tests, the CLI's ``--sim``);
drivers reach the twins through pyvisa like any other VISA library.
"""

from .backend import (
    LabrunVisaLibrary,
    bench_in_memory,
    build_twin,
    default_bench,
    read_bench,
    realistic_bench,
    twin_of,
)
from .faults import Fault, fault_from_dict
from .loads import Diode, Load, OpenCircuit, Resistor, load_from_dict
from .sourcemeter_twin import SourceMeterTwin
from .timing import Timing

__all__ = [
    "Diode",
    "Fault",
    "LabrunVisaLibrary",
    "Load",
    "OpenCircuit",
    "Resistor",
    "SourceMeterTwin",
    "Timing",
    "bench_in_memory",
    "build_twin",
    "default_bench",
    "fault_from_dict",
    "load_from_dict",
    "read_bench",
    "realistic_bench",
    "twin_of",
]
