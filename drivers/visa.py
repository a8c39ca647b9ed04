"""The one place that opens VISA resources, for real instruments and simulated ones.

Why one place: the backend string decides what answers (``@ivi`` a vendor VISA,
``@py`` pyvisa-py, ``@labrun`` the simulated bench, ``bench.yaml@labrun`` a bench of
your own); everything above this module is the same code for all of them.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, get_args

import pyvisa
from pyvisa import rname
from pyvisa.resources import MessageBasedResource

from .errors import ConnectionFailed, shown

logger = logging.getLogger(__name__)

SIM_BACKEND = "@labrun"


def backend_for(sim: bool | str = False, backend: str = "") -> str:
    """The pyvisa library string: ``sim=True`` -> the default simulated bench,
    ``sim="bench.yaml"`` -> that bench, otherwise ``backend`` ("" lets pyvisa choose)."""
    if sim is True:
        return SIM_BACKEND
    if isinstance(sim, str) and sim:
        return f"{sim}{SIM_BACKEND}"
    return backend


def resource_manager(backend: str = "") -> pyvisa.ResourceManager:
    try:
        return pyvisa.ResourceManager(backend)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConnectionFailed(
            f"cannot load the VISA library {backend or '(default)'!r}: {first}. Choices: a vendor VISA "
            "(NI-VISA, Keysight IO Libraries) for backend '@ivi'; the pure-Python one, "
            "`pip install pyvisa-py`, for backend '@py' (LAN, USB, serial); or a simulated "
            "instrument: sim=True in Python, 'sim: true' in a config, --sim on the command line"
        ) from error


ADDRESS_EXAMPLES = (
    "GPIB0::24::INSTR, USB0::0x05E6::0x2450::04096302::INSTR, TCPIP0::10.0.0.5::inst0::INSTR, ASRL1::INSTR"
)


def check_address(address: str) -> str:
    """The canonical VISA resource name, or :class:`ValueError` with examples.

    Pure syntax: nothing is opened, so configs can be checked before any instrument.
    """
    if (
        not isinstance(address, str)
        or len(address) > 256
        or address != address.strip()
        or not address.isprintable()
    ):
        raise ValueError(
            f"{shown(address)} is not a VISA resource name (printable, no surrounding spaces, at most 256 "
            f"characters); examples: {ADDRESS_EXAMPLES}"
        )
    try:
        return str(rname.to_canonical_name(address))
    except rname.InvalidResourceName as error:
        raise ValueError(
            f"{address!r} is not a VISA resource name ({error}); examples: {ADDRESS_EXAMPLES}"
        ) from None


#: the rates source-meters offer on RS-232 (the 2400: 300 ... 57600)
BaudRate = Literal[300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
BAUD_RATES: tuple[int, ...] = get_args(BaudRate)


def is_serial(address: str) -> bool:
    """True for an RS-232 resource name (``ASRL...``), the only kind with a baud rate."""
    return address.upper().startswith("ASRL")


def open_resource(address: str, backend: str = "", *, baud_rate: int | None = None) -> MessageBasedResource:
    """Open a message-based instrument, with an error that says what was tried.

    ``baud_rate`` is for serial (``ASRL``) addresses, where it must match the
    instrument's setting; it is refused for any other interface.
    """
    try:
        check_address(address)
    except ValueError as error:
        raise ConnectionFailed(str(error)) from None
    options: dict[str, Any] = {}
    if baud_rate is not None:
        if not is_serial(address):
            raise ValueError(f"baud_rate applies to serial (ASRL...) addresses only, not {address!r}")
        if baud_rate not in BAUD_RATES:
            raise ValueError(f"baud_rate {baud_rate}; allowed: {', '.join(map(str, BAUD_RATES))}")
        options["baud_rate"] = baud_rate
    rm = resource_manager(backend)
    try:
        resource = rm.open_resource(address, **options)
    except pyvisa.errors.VisaIOError as error:
        try:
            known = ", ".join(rm.list_resources()) or "none"
        except pyvisa.errors.VisaIOError:
            known = "none"
        raise ConnectionFailed(
            f"cannot open {address!r} with VISA library {backend or '(default)'!r}: "
            f"{error.description}; resources found: {known}"
        ) from error
    if not isinstance(resource, MessageBasedResource):
        resource.close()
        raise ConnectionFailed(f"{address!r} is not a message-based instrument")
    logger.debug("opened %s with %r", address, backend or "default backend")
    return resource


def in_process(resource: MessageBasedResource) -> bool:
    """True for a simulated VISA library whose instruments live in this process
    (``@labrun``, pyvisa-sim's ``@sim``): nothing outside the process can reach them."""
    return type(resource.visalib).__module__.split(".")[0] in ("labrun", "pyvisa_sim")


def list_resources(backend: str = "") -> tuple[str, ...]:
    """Every instrument the backend can see (empty if none)."""
    try:
        return tuple(resource_manager(backend).list_resources())
    except pyvisa.errors.VisaIOError:
        return ()
