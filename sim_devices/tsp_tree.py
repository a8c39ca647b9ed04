"""A TSP twin's data, compiled: the attributes its Lua objects expose, and what each takes.

Why data: the 2600B's objects are many (``smua.source.levelv``, ``smua.measure.nplc``,
``format.asciiprecision``, ...) and alike — a number within the model's limits, or one of
a few numbers naming a state — so each is a line of the twin file (``keithley2600.yaml``),
its limits the driver's (``within:``, ``limits.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .scpi_tree import CommandTree

#: the 2600B's error numbers: a Lua syntax error, a run-time error (both: manual, "Effects of
#: errors on scripts"), a value outside an attribute's range (from memory)
SYNTAX, RUNTIME, OUT_OF_RANGE = -285, -286, -222
Within = Callable[[str], tuple[float, float]]


class Refused(Exception):
    """A value the attribute does not take: queued, the chunk goes on."""


@dataclass(frozen=True)
class Attribute:
    """One attribute of a TSP object (``smua.source.levelv``) and the state key it keeps."""

    path: str
    key: str
    default: Any
    low: float | None = None
    high: float | None = None
    also: tuple[float, ...] = ()  # numbers taken besides the range (-1: auto)
    codes: tuple[tuple[Any, float], ...] = ()  # state value -> the number TSP uses
    aliases: tuple[tuple[float, Any], ...] = ()  # more numbers it takes, -> their state value
    read_only: bool = False

    @classmethod
    def from_data(cls, path: str, spec: Mapping[str, Any], within: Within) -> Attribute:
        low, high = within(spec["within"]) if "within" in spec else (spec.get("min"), spec.get("max"))
        return cls(
            path,
            spec["key"],
            spec.get("default"),
            low,
            high,
            tuple(spec.get("also", ())),
            tuple((value, float(code)) for value, code in (spec.get("codes") or {}).items()),
            tuple((float(code), value) for code, value in (spec.get("aliases") or {}).items()),
            bool(spec.get("read_only", False)),
        )

    def to_lua(self, value: Any) -> Any:
        for state, code in self.codes:
            if state == value and type(state) is type(value):
                return code
        return value

    def from_lua(self, value: Any) -> Any:
        """The state value for a number a chunk assigned; :class:`Refused` or :class:`TypeError`."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{self.path} takes a number, got {type(value).__name__}")
        number = float(value)
        if self.codes:
            for state, code in (*self.codes, *((s, c) for c, s in self.aliases)):
                if code == number:
                    return state
            raise Refused(f"{self.path} = {number:g}: allowed {', '.join(f'{c:g}' for _, c in self.codes)}")
        if number in self.also:
            return number
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise Refused(f"{self.path} = {number:g}: outside {self.low:g} .. {self.high:g}")
        return number


@dataclass
class TspTree(CommandTree):
    """The common commands (``commands``), and the attributes the Lua objects expose."""

    smu: list[Attribute] = field(default_factory=list)
    instrument: list[Attribute] = field(default_factory=list)
    constants: dict[str, dict[str, float]] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_key = {a.key: a for a in (*self.smu, *self.instrument)}

    def defaults(self) -> dict[str, Any]:
        return {**super().defaults(), **{a.key: a.default for a in (*self.smu, *self.instrument)}}
