"""A model's command tree, compiled from the manual's bracket notation.

``:SOURce[1]:VOLTage[:LEVel]`` becomes nodes with short and long forms, optional nodes
and channel suffixes; each command names a setting (with its range, choices, unit) or a
hook of the twin. The parser (``scpi.py``) resolves headers against this tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .scpi_params import Setting, mnemonic_forms


@dataclass(frozen=True)
class Node:
    """One mnemonic of a header pattern, e.g. ``SOURce[1]``."""

    short: str
    long: str
    takes_suffix: bool  # a channel suffix (``SOUR2``) may follow
    #: a number that is part of the mnemonic (``CALCulate3``): the header must carry it
    fixed_suffix: int | None = None

    def accepts(self, name: str) -> bool:
        return name == self.short or name == self.long

    def accepts_suffix(self, suffix: int | None) -> bool:
        if self.fixed_suffix is not None:
            return suffix == self.fixed_suffix
        return suffix is None or self.takes_suffix


@dataclass(frozen=True)
class Optional_:
    """An optional group ``[:LEVel]``; may hold several nodes."""

    items: tuple[Node | Optional_, ...]


_PATTERN_TOKEN = re.compile(r"\*?[A-Za-z][A-Za-z0-9_]*(?:\[\d\])?|\[|\]|:")


def compile_pattern(pattern: str) -> tuple[Node | Optional_, ...]:
    """Compile a bracket-notation header such as ``[:SENSe[1]]:CURRent[:DC]``.

    ``NAME[1]`` marks a node that takes a channel suffix; ``[:NAME]`` an optional node.
    """
    text = pattern.replace(" ", "")
    tokens = _PATTERN_TOKEN.findall(text)
    if "".join(tokens) != text:
        raise ValueError(f"unsupported characters in SCPI pattern {pattern!r}")
    pos = 0

    def group(closing: bool) -> tuple[Node | Optional_, ...]:
        nonlocal pos
        items: list[Node | Optional_] = []
        while pos < len(tokens):
            tok = tokens[pos]
            pos += 1
            if tok == ":":
                continue
            if tok == "[":
                items.append(Optional_(group(closing=True)))
            elif tok == "]":
                if not closing:
                    raise ValueError(f"unbalanced ']' in {pattern!r}")
                return tuple(items)
            else:
                word = re.sub(r"\[\d\]$", "", tok)
                fixed = re.search(r"(?<=[A-Za-z])\d+$", word) if word == tok else None
                base = word[: fixed.start()] if fixed else word
                short, long = mnemonic_forms(base)
                items.append(
                    Node(
                        short,
                        long,
                        takes_suffix=word != tok,
                        fixed_suffix=int(fixed.group()) if fixed else None,
                    )
                )
        if closing:
            raise ValueError(f"unbalanced '[' in {pattern!r}")
        return tuple(items)

    return group(closing=False)


def _ends(
    items: Sequence[Node | Optional_], k: int, tokens: Sequence[tuple[str, int | None]], ti: int
) -> Iterator[int]:
    """Every token index at which ``items[k:]`` can finish matching (backtracking)."""
    if k == len(items):
        yield ti
        return
    item = items[k]
    if isinstance(item, Node):
        if ti < len(tokens):
            name, suffix = tokens[ti]
            if item.accepts(name) and item.accepts_suffix(suffix):
                yield from _ends(items, k + 1, tokens, ti + 1)
        return
    for mid in _ends(item.items, 0, tokens, ti):
        yield from _ends(items, k + 1, tokens, mid)
    yield from _ends(items, k + 1, tokens, ti)


@dataclass(frozen=True)
class Command:
    """One entry of the command tree: a setting, or a hook for commands and queries."""

    pattern: str
    items: tuple[Node | Optional_, ...]
    setting: Setting | None = None
    on_command: str | None = None  # name of the hook run by ``HEADER params``
    on_query: str | None = None  # name of the hook answering ``HEADER? params``

    def fixed_suffixes(self) -> set[tuple[str, int]]:
        """(mnemonic, number) of each node whose number is part of its name (``CALCulate3``)."""
        out: set[tuple[str, int]] = set()
        stack: list[Node | Optional_] = list(self.items)
        while stack:
            item = stack.pop()
            if isinstance(item, Optional_):
                stack.extend(item.items)
            elif item.fixed_suffix is not None:
                out |= {(item.short, item.fixed_suffix), (item.long, item.fixed_suffix)}
        return out


@dataclass
class CommandTree:
    """A model's commands, compiled from its data file."""

    commands: list[Command]
    channels: int = 1
    error_queue_size: int = 10  # entries the instrument's error queue holds

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], within: Callable[[str], tuple[float, float]] | None = None
    ) -> CommandTree:
        """Build the tree from the ``scpi:`` section of a model file; a setting's ``within:
        NAME`` takes its bounds from ``within`` (the model's driver: ``limits.py``)."""
        commands = []
        for header, spec in data["commands"].items():
            spec = spec or {}
            setting = None
            if "setting" in spec:
                s = spec["setting"]
                low, high = s.get("min"), s.get("max")
                if "within" in s:
                    if within is None:
                        raise ValueError(f"{header}: within {s['within']!r}, but no model to take it from")
                    low, high = within(s["within"])
                setting = Setting(
                    key=s["key"],
                    kind=s.get("type", "number"),
                    default=s.get("default"),
                    minimum=low,
                    maximum=high,
                    choices=tuple(s.get("choices", ())),
                    read_only=bool(s.get("read_only", False)),
                )
            commands.append(
                Command(
                    pattern=header,
                    items=compile_pattern(header),
                    setting=setting,
                    on_command=spec.get("command"),
                    on_query=spec.get("query"),
                )
            )
        return cls(
            commands=commands,
            channels=int(data.get("channels", 1)),
            error_queue_size=int(data.get("error_queue_size", 10)),
        )

    def level_limit(self, key: str) -> float:
        """The largest magnitude the setting ``key`` takes (a source level's range)."""
        for command in self.commands:
            setting = command.setting
            if setting is not None and setting.key == key and setting.maximum is not None:
                return float(setting.maximum)
        raise KeyError(key)

    def defaults(self) -> dict[str, Any]:
        """The state after ``*RST``."""
        return {c.setting.key: c.setting.default for c in self.commands if c.setting}

    def find(self, tokens: tuple[tuple[str, int | None], ...]) -> Command | None:
        """The command whose pattern matches the header tokens, if any (the parser caches it)."""
        for command in self.commands:
            if any(end == len(tokens) for end in _ends(command.items, 0, tokens, 0)):
                return command
        return None


# ---------------------------------------------------------------------- messages
