"""Speaking TSP (Keithley's Lua dialect): the connection's transactions and the settings' words.

Why a variant of each and not a rewrite: a TSP instrument answers only what a chunk
prints (``print(smua.source.levelv)``), numbers in exponent form (``1.000000e+00``), tab
between the values of one ``print``; its error queue is ``errorqueue.count`` and
``errorqueue.next()``. What the SCPI code does stays the same — a setting confirmed
through the error queue, a refused value raising the instrument's own error — in these
words. From the Series 2600B Reference Manual: a Lua syntax error (-285) keeps the whole
chunk from running and a run-time error (-286) aborts it, so neither would print a count
sent in the same chunk; other errors (a value out of range) are queued and the chunk goes
on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import InstrumentError, LimitError
from .instrument import Instrument
from .settings import Commanded

ERROR_COUNT = "print(errorqueue.count)"
NEXT_ERROR = "print(errorqueue.next())"


def printed(query: str) -> str:
    """What a ``print(...)`` query prints: ``print(smua.measure.iv())`` -> ``smua.measure.iv()``."""
    if query.startswith("print(") and query.endswith(")"):
        return query[6:-1]
    raise ValueError(f"a TSP query is print(<expression>), got {query!r}")


class TspInstrument(Instrument):
    """A TSP instrument's connection: the same transactions as SCPI's, in Lua.

    - ``write(command)``: the command, then ``print(errorqueue.count)`` as a message of its
      own (a command with a syntax or run-time error runs nothing of its chunk, so the count
      must not share it); one round trip, as a SCPI setting's.
    - ``query_checked(query)``: the expression evaluated in a protected call, so one the
      instrument cannot evaluate raises its Lua error at once instead of costing a timeout.
    - ``command_then_query(command, query)``: one chunk, ``COMMAND print(errorqueue.count,
      EXPRESSION)``, for the per-point path, whose commands are the driver's own (a value
      it checked, an attribute every model has): a refused value is queued and the chunk
      goes on, so the count says so.
    """

    def __init__(self, resource: Any, **options: Any) -> None:
        options.setdefault("error_query", NEXT_ERROR)
        options.setdefault("error_count_query", ERROR_COUNT)
        super().__init__(resource, **options)

    def write(self, command: str, *, check: bool = True) -> None:
        with self.io_lock:
            self._send(command)
            if check:
                self._raise_if_errors(command, self._transact(command, ERROR_COUNT))

    def query_checked(self, query: str) -> str:
        if query.startswith("*"):  # a common command (*IDN?): answered as by a SCPI instrument
            return self.query(query)
        chunk = f"local ok, v = pcall(function() return ({printed(query)}) end) print(ok, v)"
        with self.io_lock:
            answer = self._transact(query, chunk)
        ok, _, value = answer.partition("\t")
        if ok != "true":
            raise InstrumentError(self.name, query, value or f"unreadable answer {answer!r}")
        return value

    def query_all(self, queries: Sequence[str]) -> list[str] | None:
        """Every expression's value in one chunk, each in a protected call: None if one could
        not be evaluated (then each is asked alone, to know which)."""
        if not queries or any(q.startswith("*") for q in queries):
            return None
        calls = ", ".join(f"q(function() return ({printed(q)}) end)" for q in queries)
        protect = "local function q(f) local ok, v = pcall(f) if ok then return v end return nil end"
        chunk = f"{protect} print({calls})"
        with self.io_lock:
            values = self._transact(queries[0], chunk).split("\t")
        if len(values) != len(queries) or "nil" in values:
            return None
        return values

    def command_then_query(self, command: str, query: str) -> str:
        with self.io_lock:
            answer = self._transact(
                f"{command} {query}", f"{command} print(errorqueue.count, {printed(query)})"
            )
        count, separator, rest = answer.partition("\t")
        self._raise_if_errors(command, count)
        if not separator:
            raise InstrumentError(self.name, query, f"unreadable answer {answer!r}")
        return rest

    def _raise_if_errors(self, command: str, count: str) -> None:
        try:
            pending = int(float(count))
        except ValueError:
            raise InstrumentError(self.name, command, f"unreadable error count {count!r}") from None
        if pending:
            raise InstrumentError(self.name, command, self._queue_text() or f"{pending} errors")

    def errors(self) -> list[str]:
        """Empty the error queue (oldest first), each as ``code,"message"`` like SCPI's."""
        with self.io_lock:
            found: list[str] = []
            for _ in range(32):  # the queue holds fewer; never loop forever
                code, _, rest = self._transact(NEXT_ERROR, NEXT_ERROR).partition("\t")
                number = int(float(code))
                if not number:
                    break
                found.append(f'{number},"{rest.split(chr(9))[0]}"')
            return found


def _number(text: str) -> float:
    return float(text)


class TspSwitch(Commanded):
    """On or off, as the numbers the attribute takes (``smua.sense``: 0 local, 1 remote;
    ``smua.measure.autozero``: 0 off, 2 auto)."""

    choices = (False, True)

    def __init__(self, set_cmd: str, get_cmd: str, *, on: float = 1, off: float = 0, doc: str) -> None:
        self.on, self.off = on, off
        super().__init__(
            set_cmd,
            get_cmd,
            check=self.allowed,
            to_scpi=lambda value: f"{on if value else off:g}",
            from_scpi=lambda text: _number(text) == on,
            doc=doc,
        )

    def allowed(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise LimitError(f"{self.name}: expected True or False, got {value!r}")
        return value


class TspChoice(Commanded):
    """One of a few named states, as the numbers the attribute takes (``codes``: name -> number)."""

    def __init__(self, set_cmd: str, get_cmd: str, *, codes: dict[str, float], doc: str) -> None:
        self.codes = codes
        self.choices = tuple(codes)
        super().__init__(
            set_cmd,
            get_cmd,
            check=self.allowed,
            to_scpi=lambda name: f"{codes[name]:g}",
            from_scpi=self.named,
            doc=doc,
        )

    def allowed(self, value: Any) -> str:
        if value not in self.codes:
            raise LimitError(f"{self.name}: {value!r}; allowed: {', '.join(map(repr, self.codes))}")
        return str(value)

    def named(self, text: str) -> str:
        number = _number(text)
        for name, code in self.codes.items():
            if number == code:
                return name
        raise ValueError(f"unexpected answer {text!r} to {self.get_cmd}")
