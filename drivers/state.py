"""A source-meter's source state as entries of its table of settings: mode, level, limits, output.

Why entries like the others and not plain properties: the config, ``settings()`` and a
snapshot see one table. Unlike an instrument setting, the driver keeps its own copy of
these (in ``_<name>``): reading ``smu.level`` costs no bus traffic, which a sweep needs
at every point, while :meth:`Held.read` asks the instrument. Setting one is the driver's
checked method (``smu.current_limit = 0.02`` is ``set_current_limit(0.02)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, Protocol, Self, TypeVar, overload

from .errors import LimitError
from .instrument import Instrument
from .settings import Setting, is_on
from .specs import Limits, Scpi

SourceMode = Literal["voltage", "current"]

D = TypeVar("D")
T = TypeVar("T")


class Held(Setting, Generic[D, T]):
    """Source state the driver keeps a copy of; ``ask`` reads it from the instrument,
    ``write`` is the driver's checked method."""

    def __init__(
        self,
        *,
        ask: Callable[[D], T],
        write: Callable[[D, T], None],
        unit: str | Callable[[Mapping[str, Any]], str] = "",
        choices: tuple[Any, ...] | None = None,
        bounds: Callable[[Limits], tuple[float, float]] | None = None,
        allowed: Callable[[type, Any], Any] | None = None,
        doc: str,
    ) -> None:
        super().__init__(unit=unit if isinstance(unit, str) else "", doc=doc)
        self.ask, self._write, self._unit, self._bounds, self._allowed = ask, write, unit, bounds, allowed
        self.choices = choices
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        self.slot = f"_{name}"  # where the driver keeps its copy

    @overload
    def __get__(self, driver: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, driver: D, owner: type | None = None) -> T: ...
    def __get__(self, driver: D | None, owner: type | None = None) -> Self | T:
        if driver is None:
            return self
        try:
            value: T = vars(driver)[self.slot]
        except KeyError:  # a driver still being made
            raise AttributeError(f"{self.name}: not known yet") from None
        return value

    def __set__(self, driver: D, value: T) -> None:
        self._write(driver, value)

    def read(self, driver: D) -> T:
        return self.ask(driver)

    def write(self, driver: D, value: T) -> None:
        self._write(driver, value)

    def sync(self, driver: D) -> None:
        """The driver's copy made what the instrument says."""
        self.keep(driver, self.ask(driver))

    def keep(self, driver: D, value: T) -> None:
        """The driver's copy made ``value`` (what was just written)."""
        vars(driver)[self.slot] = value

    def allowed_for(self, model: type, value: Any) -> Any:
        """The few values of a choice, or the model's own check: the rest is checked when
        written, against the driver's state (the power envelope depends on the mode and the
        other limit)."""
        if self._allowed is not None:
            return self._allowed(model, value)
        if self.choices is not None and value not in self.choices:
            raise LimitError(f"{self.name}: {value!r}; allowed: {', '.join(map(repr, self.choices))}")
        return value

    def bounds(self, model: type) -> tuple[float, float] | None:
        return None if self._bounds is None else self._bounds(model.limits)  # type: ignore[attr-defined]

    def units(self, read: Mapping[str, Any]) -> str:
        return self._unit if isinstance(self._unit, str) else self._unit(read)


class SourceControl(Protocol):
    """What the source state needs of its driver: its connection and SCPI, the mode it
    holds, and its checked writes."""

    @property
    def instrument(self) -> Instrument: ...
    @property
    def scpi(self) -> Scpi: ...
    @property
    def mode(self) -> SourceMode: ...
    def source_voltage(self) -> None: ...
    def source_current(self) -> None: ...
    def set_voltage(self, volts: float) -> None: ...
    def set_current(self, amps: float) -> None: ...
    def set_current_limit(self, amps: float) -> None: ...
    def set_voltage_limit(self, volts: float) -> None: ...
    def output_on(self) -> None: ...
    def output_off(self) -> None: ...


def _ask_mode(smu: SourceControl) -> SourceMode:
    return (
        "current"
        if smu.instrument.query_checked(smu.scpi.source_query).upper().startswith("CURR")
        else "voltage"
    )


def _write_mode(smu: SourceControl, mode: SourceMode) -> None:
    if mode == "voltage":
        smu.source_voltage()
    elif mode == "current":
        smu.source_current()
    else:
        raise ValueError(f"mode must be 'voltage' or 'current', got {mode!r}")


def _ask_level(smu: SourceControl) -> float:
    """The level of the mode the instrument is in (asked too: a snapshot trusts no copy)."""
    query = smu.scpi.voltage_level_query if _ask_mode(smu) == "voltage" else smu.scpi.current_level_query
    return float(smu.instrument.query_checked(query))


def _write_level(smu: SourceControl, value: float) -> None:
    (smu.set_voltage if smu.mode == "voltage" else smu.set_current)(value)


def _number(query: Callable[[Scpi], str]) -> Callable[[SourceControl], float]:
    return lambda smu: float(smu.instrument.query_checked(query(smu.scpi)))


def _ask_output(smu: SourceControl) -> bool:
    return is_on(smu.instrument.query_checked(smu.scpi.output_query))


def _write_output(smu: SourceControl, on: bool) -> None:
    smu.output_on() if on else smu.output_off()


MODE: Held[SourceControl, SourceMode] = Held(
    ask=_ask_mode,
    write=_write_mode,
    choices=("voltage", "current"),
    doc="What is sourced, 'voltage' or 'current' (as last set or read back); setting it "
    "switches the instrument (the level starts at 0).",
)
LEVEL: Held[SourceControl, float] = Held(
    ask=_ask_level,
    write=_write_level,
    unit=lambda read: "A" if read.get("mode") == "current" else "V",
    doc="The source level of the present mode, V or A (as last set or read back); setting "
    "it is ``set_voltage`` / ``set_current``, checked the same way.",
)
CURRENT_LIMIT: Held[SourceControl, float] = Held(
    ask=_number(lambda scpi: scpi.current_limit_query),
    write=lambda smu, amps: smu.set_current_limit(amps),
    unit="A",
    bounds=lambda limits: limits.current_limit_range,
    doc="The compliance in voltage mode, A; setting it is ``set_current_limit``.",
)
VOLTAGE_LIMIT: Held[SourceControl, float] = Held(
    ask=_number(lambda scpi: scpi.voltage_limit_query),
    write=lambda smu, volts: smu.set_voltage_limit(volts),
    unit="V",
    bounds=lambda limits: limits.voltage_limit_range,
    doc="The compliance in current mode, V; setting it is ``set_voltage_limit``.",
)
OUTPUT_ENABLED: Held[SourceControl, bool] = Held(
    ask=_ask_output,
    write=_write_output,
    choices=(False, True),
    doc="The output as the driver last set it (``is_output_on()`` asks the instrument); "
    "setting it is ``output_on()`` / ``output_off()``.",
)


class ReadingFormat(SourceControl, Protocol):
    """What ``measure_resistance`` needs besides: the drivers of every channel, which share
    the instrument's reading format."""

    def family(self) -> Sequence[ReadingFormat]: ...


def _resistance_allowed(model: type, on: Any) -> bool:
    if not isinstance(on, bool):
        raise LimitError(f"measure_resistance: expected True or False, got {on!r}")
    if on and not (model.scpi.resistance_on or model.resistance_of_reading):  # type: ignore[attr-defined]
        raise LimitError(f"the {model.model}'s readings carry no resistance in labrun")  # type: ignore[attr-defined]
    return on


def _ask_resistance(smu: ReadingFormat) -> bool:
    if type(smu).resistance_of_reading:  # type: ignore[attr-defined]
        return bool(vars(smu).get("_measure_resistance"))  # the driver's own: nothing to ask
    query = smu.scpi.elements_query  # none: the reading query names its elements, no resistance
    return bool(query) and "RES" in smu.instrument.query_checked(query).upper()


def _write_resistance(smu: ReadingFormat, on: bool) -> None:
    commands = smu.scpi.resistance_on if _resistance_allowed(type(smu), on) else smu.scpi.resistance_off
    with smu.instrument.io_lock:
        for command in commands:
            smu.instrument.write(command)
        for driver in smu.family():  # one reading format for every channel
            MEASURE_RESISTANCE.keep(driver, on)


MEASURE_RESISTANCE: Held[ReadingFormat, bool] = Held(
    ask=_ask_resistance,
    write=_write_resistance,
    allowed=_resistance_allowed,
    doc="Each reading also carries the resistance the instrument computes (ohms), where "
    "the model's readings can (its ``Scpi.resistance_on``).",
)
