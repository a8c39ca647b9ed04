"""The 2600B twin's objects' callbacks that keep no physics: buffers, lists, the error queue,
the timer, blenders, ``printbuffer``/``printnumber`` (a mixin of ``tsp.Keithley2600Twin``).

Each ``lua_<name>`` is ``host.<name>`` in ``tsp_objects.lua`` and answers ``(error or
None, values...)``: an error string is the chunk's run-time error.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from .tsp_tree import OUT_OF_RANGE, Refused
from .tsp_trigger import BUFFER_SETTINGS, NvBuffer

if TYPE_CHECKING:
    from .lua_sandbox import LuaSandbox
    from .tsp_tree import Attribute


class TspCallbacks:
    """What the Lua objects call that is bookkeeping, not measurement."""

    state: dict[tuple[int, str], Any]
    errors: deque[tuple[int, str]]
    esr: int
    attributes: dict[str, Attribute]  # by state key (the twin's tree's)
    lua: LuaSandbox
    _out: list[bytes]
    _timer: float
    lists: dict[int, tuple[str, list[float]]]
    trigger_measures: dict[int, tuple[str, int, int]]
    blenders: dict[int, list[float]]
    if TYPE_CHECKING:

        def push_error(self, code: int, text: str | None = None) -> None: ...
        def abort_runs(self, channel: int | None = None) -> None: ...
        def query_identify(self, unit: Any) -> str: ...
        def spend(self, seconds: float) -> None: ...
        def wait_for_runs(self) -> None: ...
        def sweeping_bits(self) -> int: ...
        def compliance_bits(self, channel: int) -> int: ...
        def buffer(self, buffer_id: int) -> NvBuffer: ...
        def initiate(self, channel: int) -> None: ...

    def lua_abort(self, channel: int) -> None:
        self.abort_runs(channel)

    def lua_model(self) -> tuple[None, str]:
        return None, self.query_identify(None).split(",")[1].strip().removeprefix("Model ")

    def lua_serial(self) -> tuple[None, str]:
        return None, self.query_identify(None).split(",")[2].strip()

    def lua_error_count(self) -> tuple[None, int]:
        return None, len(self.errors)

    def lua_error_next(self) -> tuple[None, int, str, int, int]:
        if not self.errors:
            return None, 0, "Queue Is Empty", 0, 0
        code, text = self.errors.popleft()
        return None, code, text, 20, 1  # severity 20: recoverable; node 1

    def lua_error_clear(self) -> None:
        self.errors.clear()

    def lua_timer_reset(self) -> None:
        self._timer = time.monotonic()

    def lua_timer_t(self) -> tuple[None, float]:
        return None, time.monotonic() - self._timer

    def lua_delay(self, seconds: float) -> None:
        """``delay(s)``: in the instrument's time (the time model); a twin without one is instant."""
        self.spend(max(0.0, float(seconds)))

    def lua_waitcomplete(self) -> None:
        self.wait_for_runs()

    def lua_opc(self) -> None:
        self.esr |= 1

    def lua_sweeping(self) -> tuple[None, int]:
        return None, self.sweeping_bits()

    def lua_limit_bits(self, channel: int) -> tuple[None, int]:
        return None, self.compliance_bits(channel)

    def lua_buffer_count(self, buffer_id: int) -> tuple[None, int]:
        return None, len(self.buffer(buffer_id).readings)

    def lua_buffer_get(self, buffer_id: int, name: str) -> tuple[None, float]:
        return None, self.buffer(buffer_id).settings[name]

    def lua_buffer_set(self, buffer_id: int, name: str, value: Any) -> tuple[str] | None:
        if name not in BUFFER_SETTINGS or isinstance(value, bool) or not isinstance(value, int | float):
            return (f"{name}: a number expected",)
        self.buffer(buffer_id).settings[name] = float(value)
        return None

    def lua_buffer_clear(self, buffer_id: int) -> None:
        self.buffer(buffer_id).clear()

    def lua_buffer_value(self, buffer_id: int, name: str, index: int) -> tuple[None, float | None]:
        values: list[float] = getattr(self.buffer(buffer_id), name)
        return None, values[int(index) - 1] if 1 <= index <= len(values) else None

    def lua_trigger_list(self, channel: int, kind: str, levels: Any) -> tuple[str] | None:
        values = [levels[k] for k in range(1, len(levels) + 1)]
        attribute = self.attributes["voltage" if kind == "v" else "current"]
        try:
            checked = [float(attribute.from_lua(v)) for v in values]
        except TypeError as error:
            return (str(error),)
        except Refused as refused:
            self.push_error(OUT_OF_RANGE, f"Parameter data out of range: {refused}")
            return None
        self.lists[channel] = ("voltage" if kind == "v" else "current", checked)
        return None

    def lua_trigger_linear(self, channel: int, kind: str, start: float, stop: float, points: int) -> None:
        n = max(1, int(points))
        steps = [start + (stop - start) * k / (n - 1) for k in range(n)] if n > 1 else [start]
        self.lua_trigger_list(channel, kind, self.lua.table(*steps))

    def lua_trigger_measure(self, channel: int, kind: str, first: int, second: int) -> None:
        self.trigger_measures[channel] = (kind, int(first), int(second))

    def lua_initiate(self, channel: int) -> None:
        self.initiate(channel)

    def lua_trigger_clear(self) -> None:
        pass  # no trigger event is remembered between waits here

    def lua_trigger_wait(self, timeout: float) -> tuple[None, bool]:
        return None, False  # no bus trigger arrives while a chunk runs

    def lua_blender_get(self, n: int, k: int) -> tuple[None, Any]:
        value = self.blenders[int(n)][int(k)]
        return None, bool(value) if k == 0 else value

    def lua_blender_set(self, n: int, k: int, value: Any) -> None:
        self.blenders[int(n)][int(k)] = float(value)  # orenable (k 0): true is 1

    def lua_printnumber(self, *values: Any) -> tuple[str] | None:
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        self._out.append(self._formatted(numbers) + b"\n")
        return None

    def lua_printbuffer(self, first: int, last: int, ids: Any, fields: Any) -> tuple[str] | None:
        columns = [getattr(self.buffer(int(ids[k])), str(fields[k])) for k in range(1, len(ids) + 1)]
        first, last = int(first), int(last)
        if not columns or not 1 <= first <= last <= min(len(c) for c in columns):
            return (f"printbuffer({first}, {last}): outside the buffer's readings",)
        values = [column[k] for k in range(first - 1, last) for column in columns]
        self._out.append(self._formatted(values) + b"\n")
        return None

    def _formatted(self, values: list[float]) -> bytes:
        """As ``format.data`` says: ASCII, comma and space between; binary, ``#0`` first."""
        s = self.state
        if s[(1, "data_format")] == "ASCII":
            precision = int(s[(1, "ascii_precision")]) - 1
            return ", ".join(f"{v:.{precision}e}" for v in values).encode()
        order = "<" if s[(1, "byte_order")] == "LITTLE" else ">"
        kind = "f" if s[(1, "data_format")] == "REAL32" else "d"
        return b"#0" + struct.pack(f"{order}{len(values)}{kind}", *values)
