"""The channels of a multi-channel source-meter, each a source-meter of its own.

Why a driver per channel (as QCoDeS's channel submodules): an experiment asks for "a
source-meter", and each channel of a Keysight B2902 is one, with its own output, level
and compliance. A channel driver shares its instrument's connection and I/O lock (one
bus, one transaction at a time) and has its own device lock, so a run on channel 1 and
one on channel 2 may run at once, never two on one channel.

A channel's SCPI is its model's, with the channel in it: ``:SOUR:VOLT 1`` becomes
``:SOUR2:VOLT 1``, ``:MEAS? (@1)`` becomes ``:MEAS? (@2)``. The rewrite is made once,
when the channel's driver class is made (:func:`channel_class`), never per message.
:class:`ChannelFamily` (a mixin of ``SourceMeter``) keeps an instrument's channel drivers.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, cast

from .errors import LimitError
from .locks import DeviceLock, channel_lock
from .settings import Setting
from .specs import Scpi
from .sweeps import SweepScpi
from .visa import in_process

if TYPE_CHECKING:
    from .instrument import Instrument
    from .sourcemeter import SourceMeter

Driver = TypeVar("Driver", bound="SourceMeter")

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


def _rewritten(value: Any, channel: int) -> Any:
    """A command, a tuple of them, or a function making them, for ``channel``."""
    if isinstance(value, str):
        return on_channel(value, channel)
    if isinstance(value, tuple):
        return tuple(on_channel(command, channel) for command in value)
    if callable(value):
        return _calling_on_channel(value, channel)
    return value


def _calling_on_channel(make: Callable[..., Any], channel: int) -> Callable[..., Any]:
    def made(*args: Any) -> Any:
        result = make(*args)
        if isinstance(result, list):
            return [on_channel(command, channel) for command in result]
        return on_channel(result, channel)

    return made


_made: dict[tuple[type, int], type] = {}


def channel_class(model: type[Driver], channel: int) -> type[Driver]:
    """``model``'s driver class speaking to ``channel``: every command, setting and sweep
    of the model, rewritten once for that channel (and kept)."""
    if channel == 1:
        return model
    if (model, channel) not in _made:
        _made[model, channel] = _make(model, channel)
    return _made[model, channel]


def _make(model: type[Driver], channel: int) -> type[Driver]:
    namespace: dict[str, Any] = {
        "scpi": Scpi(
            **{f.name: _rewritten(getattr(model.scpi, f.name), channel) for f in dataclasses.fields(Scpi)}
        ),
        "__doc__": f"Channel {channel} of a {model.series or model.model}.",
        "__module__": model.__module__,
    }
    if model.sweep_scpi is not None:
        sweep = model.sweep_scpi
        namespace["sweep_scpi"] = SweepScpi(
            **{f.name: _rewritten(getattr(sweep, f.name), channel) for f in dataclasses.fields(SweepScpi)}
        )
    for name in dir(model):
        setting = getattr(model, name, None)
        if isinstance(setting, Setting):
            own = copy.copy(setting)
            own.set_cmd, own.get_cmd = (
                on_channel(setting.set_cmd, channel),
                on_channel(setting.get_cmd, channel),
            )
            namespace[name] = own
    return type(f"{model.__name__}Channel{channel}", (model,), namespace)


class ChannelFamily:
    """The drivers of one instrument's channels (a mixin of ``SourceMeter``): the one that
    opened it (channel 1) keeps the others, made on first ask."""

    #: source-measure channels of the model; each is a driver of its own (``channel(n)``)
    channels: ClassVar[int] = 1
    model: ClassVar[str]
    instrument: Instrument
    keep_output: bool
    compliance_advice: str | None
    _resistance: bool

    if TYPE_CHECKING:

        def sync(self) -> None: ...

    def join_family(self, instrument: Instrument, channel: int, parent: SourceMeter | None) -> None:
        """Set at construction: the channel, its device lock, its name, its parent."""
        #: which channel this driver drives (1 on a one-channel model)
        self.channel_number = channel
        #: held by a run for its whole life: the instrument's own (channel 1), or its channel's
        self.device_lock: DeviceLock = (
            instrument.device_lock
            if channel == 1
            else channel_lock(
                str(instrument.resource.resource_name),
                channel,
                interprocess=not in_process(instrument.resource),
            )
        )
        self._name = instrument.name if channel == 1 else f"{instrument.name} channel {channel}"
        #: the channel-1 driver that opened the instrument (None: this one did)
        self._parent = parent
        self._channels: dict[int, Self] = {}

    @property
    def name(self) -> str:
        return self._name

    def channel(self, number: int) -> Self:
        """The driver of channel ``number`` of this instrument (``channel(1)`` on a
        one-channel model is the driver itself).

        It shares this driver's connection and I/O lock and has its own device lock and
        output; closing the instrument's driver stops runs on every channel first.
        """
        if self._parent is not None:
            return cast(Self, self._parent.channel(number))  # channel n's class derives from channel 1's
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= self.channels:
            raise LimitError(f"the {self.model} has channels 1 .. {self.channels}, not {number!r}")
        if number == self.channel_number:
            return self
        if number not in self._channels:
            made: Any = channel_class(cast("type[SourceMeter]", type(self)), number)  # a SourceMeter class
            driver = made(self.instrument, channel=number, parent=self)
            driver.keep_output = self.keep_output
            driver.compliance_advice = self.compliance_advice
            driver._resistance = self._resistance  # the reading format is the instrument's
            driver.sync()
            self._channels[number] = driver
        return self._channels[number]

    def family(self) -> list[SourceMeter]:
        """The drivers on this instrument: channel 1's and every channel asked for so far."""
        owner = self._parent or self
        return [owner, *owner._channels.values()]  # type: ignore[list-item]  # SourceMeters
