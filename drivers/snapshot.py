"""What a source-meter is set to, read back from the instrument: the snapshot of a run record.

Why read back and not the driver's copy: a front-panel change, another program, or a
setting the driver never wrote (the instrument's defaults after a power cycle) is what
the measurement was taken with; the copy says what the driver believes.

Units (``units``: setting name -> unit), chosen to parse with pint as they are: "V",
"A", "s", "Hz" for quantities; "" for a pure number — NPLC and the averaging count are
counts (of power-line cycles, of readings), switches are true/false, choices are words.
The level's unit follows the mode read back ("V" sourcing voltage, "A" current).
"""

from __future__ import annotations

from typing import Any, Protocol

from .errors import InstrumentError, InstrumentTimeout
from .instrument import Instrument
from .settings import Commanded, Setting


class Described(Protocol):
    """What a snapshot needs of a driver: who it is, where, and its table of settings."""

    @property
    def model(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def channel_number(self) -> int: ...
    @property
    def instrument(self) -> Instrument: ...
    def setting_table(self) -> dict[str, Setting]: ...


def visa_backend(instrument: Instrument) -> str:
    """The VISA library in use, as pyvisa names it: "@ivi" (a vendor VISA), "@py"
    (pyvisa-py), "@sim", "@labrun" (the simulated bench): its package's name."""
    package = type(instrument.resource.visalib).__module__.split(".")[0]
    if package == "pyvisa":
        return "@ivi"  # pyvisa's own wrapper of a vendor's library
    if package == "labrun":
        return "@labrun"
    return f"@{package.removeprefix('pyvisa_')}"  # pyvisa's convention: @xyz is pyvisa_xyz


def take(driver: Described) -> dict[str, Any]:
    """Identity and every readable setting of the driver's model, each asked now.

    Under the I/O lock throughout, so no other thread's command falls between two
    answers. A setting the instrument refuses is in ``errors`` (name -> message) instead;
    a timeout ends the snapshot (:class:`InstrumentTimeout`): a silent instrument costs
    one timeout, not one a setting.
    """
    instrument = driver.instrument
    settings: dict[str, Any] = {}
    errors: dict[str, str] = {}
    table = driver.setting_table()
    readable = {name: setting for name, setting in table.items() if setting.readable}
    with instrument.io_lock:
        identity = instrument.query_checked("*IDN?")
        settings.update(_in_batches(instrument, readable, errors))
        for name, setting in readable.items():
            if name in settings or name in errors:
                continue
            try:
                settings[name] = setting.read(driver)
            except InstrumentTimeout:
                raise
            except (InstrumentError, ValueError, IndexError) as error:  # refused, or unreadable
                errors[name] = str(error)
    settings = {name: settings[name] for name in readable if name in settings}  # the table's order
    return {
        "model": driver.model,
        "name": driver.name,
        "address": str(instrument.resource.resource_name),
        "channel": driver.channel_number,
        "backend": visa_backend(instrument),
        "identity": identity,
        "settings": settings,
        "units": {name: table[name].units(settings) for name in settings},
        "errors": errors,
    }


#: queries asked in one message at most (instruments' input buffers are a few hundred bytes)
BATCH = 12


def _in_batches(instrument: Instrument, table: dict[str, Setting], errors: dict[str, str]) -> dict[str, Any]:
    """The settings with a plain query of their own, asked a dozen in one round trip each;
    a batch the instrument refuses in part is left to be asked one by one."""
    plain = {name: s for name, s in table.items() if isinstance(s, Commanded) and s.get_cmd}
    names = list(plain)
    values: dict[str, Any] = {}
    for k in range(0, len(names), BATCH):
        chunk = names[k : k + BATCH]
        answers = instrument.query_all([plain[name].get_cmd for name in chunk])
        if answers is None:
            continue
        for name, answer in zip(chunk, answers, strict=True):
            try:
                values[name] = plain[name].from_scpi(answer)
            except (ValueError, IndexError) as error:
                errors[name] = f"{plain[name].get_cmd}: unreadable answer {answer!r} ({error})"
    return values
