"""The twin behaviours: what each simulated model computes, by the name its data file gives.

Why code and not data: readings are computed from the load and the state, and each model
formats them its own way (the 2400's ``:FORM:ELEM``, the 2450's reading buffers, the
B2900's channel lists): one module each (``behaviour_*.py``). Everything else about a
model is its data file.
"""

from __future__ import annotations

from .behaviour_2400 import Keithley2400Twin
from .behaviour_2450 import Keithley2450Twin
from .behaviour_b2900 import KeysightB2900Twin
from .scpi_errors import ERROR_TEXT
from .sourcemeter_twin import SourceMeterTwin

ERROR_TEXT.setdefault(803, "Output disabled")  # Keithley 2400 manual, appendix B
ERROR_TEXT.setdefault(-230, "Data corrupt or stale")
ERROR_TEXT.setdefault(-225, "Out of memory")

#: twin behaviours, by the name a twin data file gives under ``scpi.twin``
BEHAVIOURS: dict[str, type[SourceMeterTwin]] = {
    "keithley2400": Keithley2400Twin,
    "keithley2450": Keithley2450Twin,
    "keysight_b2900": KeysightB2900Twin,
}
