"""Everything labrun takes from pyvisa-sim, in one place.

Why a seam: pyvisa-sim is the transport (sessions, terminations, timeouts, static
answers), and the twins extend two of its classes, using names it does not promise to
keep. They are listed here; ``tests/test_scpi_twins.py`` checks each one against the
installed pyvisa-sim, so a release that moves one fails loudly there, not deep in a twin.
"""

from __future__ import annotations

from pyvisa_sim import parser as _parser
from pyvisa_sim.devices import Device
from pyvisa_sim.highlevel import SimVisaLibrary

#: a pyvisa-sim YAML file -> its dict of devices and resources
parse_file = _parser.parse_file
#: copies a device dict's dialogues, properties and error handling onto a device
update_component = _parser.update_component

#: attributes of a pyvisa-sim ``Device`` that the twins read or write
DEVICE_ATTRIBUTES = ("_output_buffers", "_input_buffer", "_query_eom", "_response_eom", "_dialogues")
#: methods of a ``Device`` the twins call or override
DEVICE_METHODS = ("write", "read", "add_eom", "add_error_handler")
#: what ``LabrunVisaLibrary`` overrides or uses of ``SimVisaLibrary``
LIBRARY_METHODS = ("_init", "open", "get_debug_info")

__all__ = [
    "DEVICE_ATTRIBUTES",
    "DEVICE_METHODS",
    "LIBRARY_METHODS",
    "Device",
    "SimVisaLibrary",
    "parse_file",
    "update_component",
]
