"""A model's settings as one table of descriptors: declared once, checked before anything is written.

Why descriptors and not plain attributes: ``smu.nplc = 10`` on an attribute silently sends
nothing. A :class:`Setting` refuses a value outside the model's table (:class:`LimitError`,
nothing written), writes it (confirmed through the error queue), reads it back, and
raises if the instrument holds something else; reading the attribute asks the instrument.

The same objects are the table that the config checks and applies through
(``SourceMeter.setting_table()``), and that a snapshot reads back (:meth:`Setting.read`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import InstrumentError, LimitError
from .instrument import Instrument
from .specs import check_range as check_range  # and here, where experiments have long found it

#: unit words of the messages that name a count, not a quantity: "" (dimensionless) in a
#: snapshot, whose units must parse with pint
COUNTS = frozenset({"PLC", "readings"})


class Asked(Protocol):
    """What a command setting needs of its driver: a connection and a name for messages."""

    @property
    def name(self) -> str: ...
    @property
    def instrument(self) -> Instrument: ...


@dataclass(frozen=True)
class SettingInfo:
    """One setting of a model, described (JSON-ready: CLI help, forms, docs)."""

    name: str
    #: pint-compatible; "" for a count (NPLC), a switch or a choice; the level's follows
    #: the mode (here: voltage mode's)
    unit: str
    doc: str
    readable: bool
    writable: bool
    low: float | None = None  # the model's allowed range, where it is one
    high: float | None = None
    choices: tuple[Any, ...] | None = None  # the allowed values, where they are few


class Setting:
    """One entry of a model's table of settings (a data descriptor on the driver class).

    ``unit`` is the word the messages use ("PLC", "V"); :meth:`units` is the snapshot's.
    """

    readable = True
    writable = True
    #: the allowed values, where they are few (a switch, a choice)
    choices: tuple[Any, ...] | None = None

    def __init__(self, *, unit: str, doc: str) -> None:
        self.unit = unit
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name and self.name != name:  # one entry shared by several models: one name
            raise TypeError(f"setting {self.name!r} declared again as {name!r}")
        self.name = name

    def __set__(self, driver: Any, value: Any) -> None:
        self.write(driver, value)

    def read(self, driver: Any) -> Any:
        """The value the instrument holds, asked now; a refused query raises at once."""
        raise NotImplementedError

    def write(self, driver: Any, value: Any) -> None:
        """Check ``value`` against the driver's model, write it, confirm it."""
        raise NotImplementedError

    def allowed_for(self, model: type, value: Any) -> Any:
        """``value`` as the instrument takes it, or :class:`LimitError` (the model's table)."""
        return value

    def bounds(self, model: type) -> tuple[float, float] | None:
        """The model's allowed range, where the setting is a number."""
        return None

    def units(self, read: Mapping[str, Any]) -> str:
        """The unit of its value in a snapshot (pint-compatible; ``read``: the other values)."""
        return "" if self.unit in COUNTS else self.unit

    def describe(self, model: type) -> SettingInfo:
        low, high = self.bounds(model) or (None, None)
        doc = self.__doc__ or ""
        return SettingInfo(
            self.name, self.units({}), doc, self.readable, self.writable, low, high, self.choices
        )


class Commanded(Setting):
    """A setting with a command and a query of its own.

    ``set_cmd`` is formatted with ``value`` (already in the instrument's words),
    ``get_cmd`` is its query; ``to_scpi`` / ``from_scpi`` translate; ``check`` refuses.
    """

    def __init__(
        self,
        set_cmd: str,
        get_cmd: str,
        *,
        check: Callable[[Any], Any],
        to_scpi: Callable[[Any], str],
        from_scpi: Callable[[str], Any],
        unit: str = "",
        doc: str,
    ) -> None:
        super().__init__(unit=unit, doc=doc)
        self.set_cmd, self.get_cmd = set_cmd, get_cmd
        self.check, self.to_scpi, self.from_scpi = check, to_scpi, from_scpi

    def __get__(self, driver: Asked | None, owner: type | None = None) -> Any:
        if driver is None:
            return self
        return self.from_scpi(driver.instrument.query(self.get_cmd))

    def read(self, driver: Asked) -> Any:
        return self.from_scpi(driver.instrument.query_checked(self.get_cmd))

    def write(self, driver: Asked, value: Any) -> None:
        value = self.allowed_for(type(driver), value)  # LimitError here: nothing was written
        command = self.set_cmd.format(value=self.to_scpi(value))
        with driver.instrument.io_lock:
            driver.instrument.write(command)
            held = self.from_scpi(driver.instrument.query(self.get_cmd))
        if not self.holds(held, value):
            raise InstrumentError(driver.name, command, f"reads back {held!r}")

    def allowed_for(self, model: type, value: Any) -> Any:
        return self.check(value)

    def holds(self, held: Any, value: Any) -> bool:
        """Whether what the instrument reads back is what was set."""
        if isinstance(value, float):
            return math.isclose(float(held), value, rel_tol=1e-6)
        return bool(held == value)


class Number(Commanded):
    """A number within ``low .. high`` in ``unit`` (the model's table)."""

    def __init__(self, set_cmd: str, get_cmd: str, *, low: float, high: float, unit: str, doc: str) -> None:
        self.low, self.high = low, high
        super().__init__(
            set_cmd,
            get_cmd,
            check=self.allowed,
            to_scpi=lambda v: f"{v:.10g}",
            from_scpi=float,
            unit=unit,
            doc=doc,
        )

    def allowed(self, value: Any) -> float:
        """``value`` as a float, or :class:`LimitError` naming the allowed range."""
        return self.within(value, self.low, self.high)

    def within(self, value: Any, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LimitError(f"{self.name}: expected a number in {self.unit}, got {value!r}")
        return check_range(self.name, value, low, high, self.unit)

    def bounds(self, model: type) -> tuple[float, float] | None:
        return self.low, self.high


def is_on(text: str) -> bool:
    return text.strip().upper() in ("1", "ON")


class Switch(Commanded):
    """On or off (``True`` / ``False``)."""

    choices = (False, True)

    def __init__(self, set_cmd: str, get_cmd: str, *, doc: str) -> None:
        to_scpi: Callable[[Any], str] = lambda v: "ON" if v else "OFF"  # noqa: E731
        super().__init__(set_cmd, get_cmd, check=self.allowed, to_scpi=to_scpi, from_scpi=is_on, doc=doc)

    def allowed(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise LimitError(f"{self.name}: expected True or False, got {value!r}")
        return value


class Range(Number):
    """A range: its table is the model's (``model.ranges.<table>``), and the instrument
    may pick the range that holds the value, so it reads back at least the value."""

    def __init__(self, set_cmd: str, get_cmd: str, *, table: str, unit: str, doc: str) -> None:
        super().__init__(set_cmd, get_cmd, low=0.0, high=math.inf, unit=unit, doc=doc)
        self.table = table

    def allowed_for(self, model: type, value: Any) -> float:
        low, high = self.bounds(model)
        return self.within(value, low, high)

    def bounds(self, model: type) -> tuple[float, float]:
        low, high = getattr(model.ranges, self.table)  # type: ignore[attr-defined]
        return float(low), float(high)

    def holds(self, held: Any, value: Any) -> bool:
        return bool(float(held) >= value * (1 - 1e-6))


class Choice(Commanded):
    """One of a few named states; ``words`` maps each name to the instrument's SCPI word
    (its short form first: that is how instruments answer)."""

    def __init__(self, set_cmd: str, get_cmd: str, *, words: dict[str, str], doc: str) -> None:
        self.words = words
        self.choices = tuple(words)
        super().__init__(
            set_cmd, get_cmd, check=self.allowed, to_scpi=words.__getitem__, from_scpi=self.named, doc=doc
        )

    def allowed(self, value: Any) -> str:
        if value not in self.words:
            raise LimitError(f"{self.name}: {value!r}; allowed: {', '.join(map(repr, self.words))}")
        return str(value)

    def named(self, text: str) -> str:
        word = text.strip().strip('"').upper()
        for name, scpi in self.words.items():
            if word.startswith(scpi.upper()):  # the short form, or the long one
                return name
        raise ValueError(f"unexpected answer {text!r} to {self.get_cmd}")


class ReadOnly(Commanded):
    """A state the instrument reports and the driver does not set (the line frequency)."""

    writable = False

    def __init__(self, get_cmd: str, *, from_scpi: Callable[[str], Any], unit: str = "", doc: str) -> None:
        super().__init__("", get_cmd, check=self.refuse, to_scpi=str, from_scpi=from_scpi, unit=unit, doc=doc)

    def refuse(self, value: Any) -> Any:
        raise AttributeError(f"{self.name} is read from the instrument, not set")


def table_of(model: type) -> dict[str, Setting]:
    """Every setting of a driver class, by name, in declaration order (the base class's
    first: the source state, then the ranges, then the model's own)."""
    table: dict[str, Setting] = {}
    for klass in reversed(model.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Setting):
                table[name] = value
    return table
