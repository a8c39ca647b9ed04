"""The channels of a multi-channel source-meter, each a source-meter of its own.

Why a driver per channel (as QCoDeS's channel submodules): an experiment asks for "a
source-meter", and each channel of a Keysight B2902 is one, with its own output, level
and compliance. A channel driver shares its instrument's connection and I/O lock (one
bus, one transaction at a time) and has its own device lock, so a run on channel 1 and
one on channel 2 may run at once, never two on one channel.

A channel's SCPI is its model's, with the channel in it: ``:SOUR:VOLT 1`` becomes
``:SOUR2:VOLT 1``, ``:MEAS? (@1)`` becomes ``:MEAS? (@2)``. The rewrite is made once,
when the channel's driver class is made (:func:`channel_class`), never per message.
:class:`Channels` (a part shared by an instrument's drivers) keeps its channel drivers.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import LimitError
from .instrument import Instrument
from .locks import DeviceLock, channel_lock
from .settings import Commanded
from .specs import Scpi
from .sweeps import SweepScpi
from .visa import in_process

D = TypeVar("D")  # a driver (type[D]: its class)

#: the root nodes that take a channel suffix (B2900 SCPI reference): :SOURce[n], :SENSe[n],
#: :OUTPut[n], :TRIGger[n], :TRACe[n], :ARM[n], :CALCulate[n]
_CHANNELLED = re.compile(
    r"(?P<head>^|;)(?P<colon>:?)(?P<node>SOUR(?:CE)?|SENS(?:E)?|OUTP(?:UT)?|TRIG(?:GER)?|TRAC(?:E)?|ARM|"
    r"CALC(?:ULATE)?)(?P<suffix>\d*)(?=[:\s?;]|$)",
    re.IGNORECASE,
)
_CHANNEL_LIST = re.compile(r"\(@\s*1\s*\)")


def on_channel(command: str, channel: int) -> str:
    """``command`` (written for channel 1) addressed to ``channel``.

    Each program-message unit's root node gets the channel suffix, and a channel list
    ``(@1)`` names the channel; common commands (``*RST``) and instrument-wide ones
    (``:FORM:ELEM:SENS``, ``:SYST:ERR?``) stay as they are.
    """

    def suffixed(m: re.Match[str]) -> str:
        return f"{m['head']}{m['colon']}{m['node']}{channel}"

    return _CHANNEL_LIST.sub(f"(@{channel})", _CHANNELLED.sub(suffixed, command))


Rewrite = Callable[[str, int], str]


def _rewritten(value: Any, channel: int, rewrite: Rewrite) -> Any:
    """A command, a tuple of them, or a function making them, for ``channel``."""
    if isinstance(value, str):
        return rewrite(value, channel)
    if isinstance(value, tuple):
        return tuple(rewrite(command, channel) for command in value)
    if callable(value):
        return _calling_on_channel(value, channel, rewrite)
    return value


def _calling_on_channel(make: Callable[..., Any], channel: int, rewrite: Rewrite) -> Callable[..., Any]:
    def made(*args: Any) -> Any:
        result = make(*args)
        if isinstance(result, list):
            return [rewrite(command, channel) for command in result]
        return rewrite(result, channel)

    return made


_made: dict[tuple[type, int], type] = {}


def channel_class(model: type[D], channel: int) -> type[D]:
    """``model``'s driver class speaking to ``channel``: every command, setting and sweep
    of the model, rewritten once for that channel (and kept)."""
    if channel == 1:
        return model
    if (model, channel) not in _made:
        _made[model, channel] = _make(model, channel)
    return _made[model, channel]


def _make(model: type[D], channel: int) -> type[D]:
    declared: Any = model  # a source-meter class: its scpi, sweep_scpi and settings are read
    # SCPI's channel suffixes, or the model's own addressing (TSP's smua -> smub)
    rewrite: Rewrite = getattr(declared, "on_channel", on_channel)
    namespace: dict[str, Any] = {
        "scpi": Scpi(
            **{
                f.name: _rewritten(getattr(declared.scpi, f.name), channel, rewrite)
                for f in dataclasses.fields(Scpi)
            }
        ),
        "__doc__": f"Channel {channel} of a {declared.series or declared.model}.",
        "__module__": model.__module__,
    }
    if declared.sweep_scpi is not None:
        sweep = declared.sweep_scpi
        namespace["sweep_scpi"] = SweepScpi(
            **{
                f.name: _rewritten(getattr(sweep, f.name), channel, rewrite)
                for f in dataclasses.fields(SweepScpi)
            }
        )
    for name in dir(model):
        setting = getattr(model, name, None)
        if isinstance(setting, Commanded):
            own = copy.copy(setting)
            own.set_cmd, own.get_cmd = rewrite(setting.set_cmd, channel), rewrite(setting.get_cmd, channel)
            namespace[name] = own
    return type(f"{model.__name__}Channel{channel}", (model,), namespace)


def device_lock_of(instrument: Instrument, channel: int) -> DeviceLock:
    """Held by a run for its whole life: the instrument's own (channel 1), or its channel's."""
    if channel == 1:
        return instrument.device_lock
    address = str(instrument.resource.resource_name)
    return channel_lock(address, channel, interprocess=not in_process(instrument.resource))


class Channels(Generic[D]):
    """The drivers of one instrument's channels (a part its drivers share): channel 1's,
    which opened the instrument, and each other one's, made by ``make`` on first ask."""

    def __init__(self, opener: D, *, count: int, model: str, make: Callable[[int], D]) -> None:
        self.opener, self.count, self.model, self._make = opener, count, model, make
        self._others: dict[int, D] = {}

    def driver(self, number: int) -> D:
        """The driver of channel ``number``; another channel's shares the connection and
        I/O lock and has its own device lock and output."""
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= self.count:
            raise LimitError(f"the {self.model} has channels 1 .. {self.count}, not {number!r}")
        if number == 1:
            return self.opener
        if number not in self._others:
            self._others[number] = self._make(number)
        return self._others[number]

    def all(self) -> list[D]:
        """Channel 1's driver and every other channel's asked for so far."""
        return [self.opener, *self._others.values()]
