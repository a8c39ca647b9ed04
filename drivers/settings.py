"""Instrument settings as properties: one declaration each, checked before anything is written.

Why properties and not plain attributes: ``smu.nplc = 10`` on an attribute silently sends
nothing. A :class:`Setting` refuses a value outside the model's table (:class:`LimitError`,
nothing written), writes it (confirmed through the error queue), reads it back, and
raises if the instrument holds something else; reading the property asks the instrument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import InstrumentError, LimitError


def check_range(what: str, value: float, low: float, high: float, unit: str) -> float:
    """``value`` as float, or :class:`LimitError` naming the allowed range."""
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise LimitError(f"{what} {value:g} {unit} is outside the allowed {low:g} .. {high:g} {unit}")
    return value


class Setting:
    """A settable instrument state on a driver (a data descriptor).

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
        doc: str,
    ) -> None:
        self.set_cmd, self.get_cmd = set_cmd, get_cmd
        self.check, self.to_scpi, self.from_scpi = check, to_scpi, from_scpi
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, driver: Any, owner: type | None = None) -> Any:
        if driver is None:
            return self
        return self.from_scpi(driver.instrument.query(self.get_cmd))

    def __set__(self, driver: Any, value: Any) -> None:
        value = self.allowed_for(type(driver), value)  # LimitError here: nothing was written
        command = self.set_cmd.format(value=self.to_scpi(value))
        with driver.instrument.io_lock:
            driver.instrument.write(command)
            held = self.from_scpi(driver.instrument.query(self.get_cmd))
        if not self.holds(held, value):
            raise InstrumentError(driver.name, command, f"reads back {held!r}")

    def allowed_for(self, model: type, value: Any) -> Any:
        """``value`` as the instrument takes it, or :class:`LimitError` (the model's table)."""
        return self.check(value)

    def holds(self, held: Any, value: Any) -> bool:
        """Whether what the instrument reads back is what was set."""
        if isinstance(value, float):
            return math.isclose(float(held), value, rel_tol=1e-6)
        return bool(held == value)


class Number(Setting):
    """A number within ``low .. high`` in ``unit`` (the model's table)."""

    def __init__(self, set_cmd: str, get_cmd: str, *, low: float, high: float, unit: str, doc: str) -> None:
        self.low, self.high, self.unit = low, high, unit
        super().__init__(
            set_cmd, get_cmd, check=self.allowed, to_scpi=lambda v: f"{v:.10g}", from_scpi=float, doc=doc
        )

    def allowed(self, value: Any) -> float:
        """``value`` as a float, or :class:`LimitError` naming the allowed range."""
        return self.within(value, self.low, self.high)

    def within(self, value: Any, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LimitError(f"{self.name}: expected a number in {self.unit}, got {value!r}")
        return check_range(self.name, value, low, high, self.unit)


class Switch(Setting):
    """On or off (``True`` / ``False``)."""

    def __init__(self, set_cmd: str, get_cmd: str, *, doc: str) -> None:
        super().__init__(
            set_cmd,
            get_cmd,
            check=self.allowed,
            to_scpi=lambda v: "ON" if v else "OFF",
            from_scpi=lambda text: text.strip().upper() in ("1", "ON"),
            doc=doc,
        )

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
        low, high = getattr(model.ranges, self.table)  # type: ignore[attr-defined]
        return self.within(value, low, high)

    def holds(self, held: Any, value: Any) -> bool:
        return bool(float(held) >= value * (1 - 1e-6))


class Choice(Setting):
    """One of a few named states; ``words`` maps each name to the instrument's SCPI word
    (its short form first: that is how instruments answer)."""

    def __init__(self, set_cmd: str, get_cmd: str, *, words: dict[str, str], doc: str) -> None:
        self.words = words
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


class ReadOnly(Setting):
    """A state the instrument reports and the driver does not set (the line frequency)."""

    def __init__(self, get_cmd: str, *, from_scpi: Callable[[str], Any], doc: str) -> None:
        super().__init__("", get_cmd, check=self.refuse, to_scpi=str, from_scpi=from_scpi, doc=doc)

    def refuse(self, value: Any) -> Any:
        raise AttributeError(f"{self.name} is read from the instrument, not set")
