"""A SCPI parser driven by a command tree written in the manual's bracket notation.

Why: pyvisa-sim matches command bytes exactly, so ``:source:voltage 1`` or
``SOUR:FUNC VOLT;VOLT 1`` go unanswered although a real source-meter accepts them.
Here each model's commands are data (``:SOURce[1]:VOLTage[:LEVel]``, short/long forms,
optional nodes, channel suffixes) and this module does what an IEEE 488.2 / SCPI
parser does with them: split program messages, apply the path rules, parse
parameters, and answer bad input with the standard error numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .scpi_errors import ScpiError
from .scpi_tree import Command, CommandTree

# ------------------------------------------------------------------------- parser

#: a mnemonic may hold digits (``PK2Pk``); those at its end are its suffix (``SOUR2``, ``CALC3``)
_HEADER_TOKEN = re.compile(r"^(\*?[A-Za-z][A-Za-z0-9_]*?)(\d*)$")
_UNIT = re.compile(r"^(\S+)(?:\s+(.*))?$", re.S)
Path = tuple[tuple[str, int | None], ...]


def split_units(message: str) -> list[str]:
    """Split a program message at ``;`` outside quoted strings."""
    if "'" not in message and '"' not in message:
        return message.split(";")
    units, current, quote = [], [], ""
    for ch in message:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ";":
            units.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote:
        raise ScpiError(-102, "unterminated string")
    units.append("".join(current))
    return units


def split_params(text: str) -> list[str]:
    """Split parameters at commas outside quotes and parentheses, trimming white space."""
    if not text.strip():
        return []
    if not any(ch in text for ch in "'\"(),"):
        return [text.strip()]
    params, current, quote, depth = [], [], "", 0
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            params.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    params.append("".join(current).strip())
    if any(p == "" for p in params):
        raise ScpiError(-102, "empty parameter")
    return params


@dataclass(frozen=True)
class ProgramUnit:
    """One command or query of a program message, resolved against the tree."""

    command: Command
    query: bool
    params: tuple[str, ...]  # shared by cached parses: immutable
    channel: int


class MessageParser:
    """Parses program messages against a command tree, keeping the 488.2 path."""

    CACHE_SIZE = 1024

    def __init__(self, tree: CommandTree) -> None:
        self.tree = tree
        self._headers: dict[tuple[str, Path], tuple[Command, bool, int, Path] | ScpiError] = {}

    def units(self, message: str) -> Iterator[ProgramUnit | ScpiError]:
        """Each resolved unit, or the error it raises, in order.

        Path rule (IEEE 488.2-1992 §A.1.1): a header without a leading colon is
        relative to the node above the last header's leaf; common commands (``*``)
        do not change the path. Resolving a header from a path always gives the same
        command, so that step is cached (a sweep repeats its headers, not its values).
        """
        try:
            texts = split_units(message)
        except ScpiError as error:
            yield error
            return
        path: Path = ()
        for raw in texts:
            text = raw.strip()
            if not text:
                continue  # a trailing ';' or an empty unit
            try:
                unit, path = self._resolve(text, path)
            except ScpiError as error:
                yield error
                continue
            yield unit

    def _resolve(self, text: str, path: Path) -> tuple[ProgramUnit, Path]:
        match = _UNIT.match(text)
        if not match:
            raise ScpiError(-102, text)
        header, rest = match.group(1), match.group(2) or ""
        key = (header, path)
        resolved = self._headers.get(key)
        if resolved is None:
            try:
                resolved = self._resolve_header(header, path)
            except ScpiError as error:
                resolved = error
            if len(self._headers) >= self.CACHE_SIZE:
                self._headers.clear()
            self._headers[key] = resolved
        if isinstance(resolved, ScpiError):
            raise ScpiError(resolved.code, resolved.detail)
        command, query, channel, new_path = resolved
        return ProgramUnit(command, query, tuple(split_params(rest)), channel), new_path

    def _resolve_header(self, header: str, path: Path) -> tuple[Command, bool, int, Path]:
        """The command a header names from ``path``, and the path it leaves (cached)."""
        query = header.endswith("?")
        if query:
            header = header[:-1]
        absolute = header.startswith(":") or header.startswith("*")
        parts = header.lstrip(":").split(":")
        tokens = []
        for part in parts:
            m = _HEADER_TOKEN.match(part)
            if not part:
                raise ScpiError(-102, f"empty node in {header!r}")
            if not m:
                raise ScpiError(-113 if part.isprintable() and part.isascii() else -101, header)
            suffix = int(m.group(2)) if m.group(2) else None
            tokens.append((m.group(1).upper(), suffix))
        full = tuple(tokens) if absolute else path + tuple(tokens)
        command = self.tree.find(full)
        if command is None:
            raise ScpiError(-113, header)
        fixed = command.fixed_suffixes()  # numbers that are part of a mnemonic (CALC3): no channel
        suffixes = [s for name, s in full if s is not None and (name, s) not in fixed]
        channel = suffixes[-1] if suffixes else 1
        if not 1 <= channel <= self.tree.channels:
            raise ScpiError(-114, header)
        new_path = path if header.startswith("*") else full[:-1]
        return command, query, channel, new_path
