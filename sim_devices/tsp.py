"""The Keithley 2600B twin: each message a Lua chunk, run by a real interpreter.

Why: a TSP instrument runs programs, not commands from a list — ``smua.source.levelv = 1
print(smua.measure.i())``, loops, functions, scripts loaded with ``loadscript ...
endscript``. The twin runs them in a sandboxed Lua 5.1 (``lua_sandbox.py``) whose global
environment holds the instrument's objects (``tsp_objects.lua``: ``smua``/``smub``,
``errorqueue``, ``format``, ``display``, ``beeper``, ``localnode``, ``status``,
``trigger``, ``print``, ``printbuffer``, ``reset()``, ...); their attributes keep the same
state and their readings the same physics (loads, compliance, noise, circuits, the time
model) as the SCPI twins. Messages starting with ``*`` are the IEEE 488.2 common
commands. A Lua syntax error queues -285 and runs nothing of the chunk; a run-time error
queues -286 and ends it; a value out of an attribute's range queues -222 and the chunk
goes on (Series 2600B Reference Manual, "Effects of errors on scripts"; -222 from memory).
"""

from __future__ import annotations

import pathlib
import re
import time
from collections.abc import Mapping
from typing import Any

from .lua_sandbox import LuaSandbox
from .scpi import ProgramUnit
from .scpi_tree import CommandTree
from .sourcemeter_twin import SourceMeterTwin
from .tsp_calls import TspCallbacks
from .tsp_tree import OUT_OF_RANGE, RUNTIME, SYNTAX, Attribute, Refused, TspTree, Within
from .tsp_trigger import TriggerModel

PRELUDE = (pathlib.Path(__file__).parent / "tsp_objects.lua").read_text(encoding="utf-8")
_POSITION = re.compile(r"^[\w.]+:(\d+): ")  # Lua's "chunk:1: ", "script:3: "


class Keithley2600Twin(TspCallbacks, TriggerModel, SourceMeterTwin):
    """Keithley 2600B: TSP in a real Lua, the SCPI twins' physics (see the module's doc)."""

    @classmethod
    def compile(cls, section: Mapping[str, Any], within: Within, channels: int) -> CommandTree:
        base = CommandTree.from_data({"commands": section["commands"]})
        return TspTree(
            commands=base.commands,
            channels=channels,
            error_queue_size=int(section.get("error_queue_size", 100)),
            smu=[Attribute.from_data(path, spec, within) for path, spec in section["smu"].items()],
            instrument=[
                Attribute.from_data(path, spec, within) for path, spec in section["instrument"].items()
            ],
            constants=dict(section["constants"]),
            events=dict(section["events"]),
        )

    def __init__(self, name: str, tree: CommandTree, **options: Any) -> None:
        assert isinstance(tree, TspTree)
        self.limit_bits: dict[int, int] = {}
        self.events = tree.events
        self.attributes, self.smu_attributes = tree.by_key, tree.smu
        self._out: list[bytes] = []
        self._script: tuple[str | None, bool, list[str]] | None = None  # name, run it, lines
        self._timer = time.monotonic()
        super().__init__(name, tree, **options)
        self.lua = LuaSandbox()
        lua = self.lua
        callbacks = {n[4:]: getattr(self, n) for n in dir(type(self)) if n.startswith("lua_")}
        rows = [lua.table(a.path, a.key, a.read_only) for a in tree.smu]
        wide = [lua.table(a.path, a.key, a.read_only) for a in tree.instrument]
        self.make_script, self._set_format = lua.define(PRELUDE, "=tsp_objects")(
            lua.table(**callbacks),
            tree.channels,
            lua.table(*rows),
            lua.table(*wide),
            lua.table(**tree.constants["smu"]),
            lua.table(
                **{name: lua.table(**values) for name, values in tree.constants.items() if name != "smu"}
            ),
            lua.table(
                trigger=tree.events["trigger"],
                blender=tree.events["blender"],
                smu=lua.table(**tree.events["smu"]),
            ),
        )
        self.number_format()
        #: compiled chunks by their text (a client repeats its queries, not its numbers)
        self._chunks: dict[str, Any] = {}

    # ------------------------------------------------------------------- messages

    def respond(self, message: str) -> bytes | None:
        """Each line of the message in turn (one written with line ends inside, as a script
        is, arrives as several over a socket): a chunk, a line of a script being loaded, or
        a common command. Its response: what they printed."""
        out: list[bytes] = []
        self._out = out
        for line in message.split("\n"):
            self._line(line.rstrip("\r"))
        return b"".join(out)[:-1] if out else None

    def _line(self, text: str) -> None:
        if self._script is not None:
            self._script_line(text)
        elif text.lstrip().startswith("*"):
            answer = super().respond(text)
            if answer is not None:
                self._out.append(answer + b"\n")
        elif (words := text.split(None, 1)) and words[0] in ("loadscript", "loadandrunscript"):
            self._script = (words[1].strip() if len(words) > 1 else None, words[0] == "loadandrunscript", [])
        elif text.strip():
            self.run_chunk(text, "chunk")

    def run_chunk(self, source: str, name: str) -> None:
        compiled = self._chunks.get(source)
        if compiled is None:
            if len(self._chunks) >= 1024:
                self._chunks.clear()
            ok, function = self.lua.compile(source, f"={name}")
            compiled = self._chunks[source] = (ok, function)
        ok, function = compiled
        if not ok:
            self.push_error(SYNTAX, f"TSP Syntax error {self._where(str(function))}")
            return
        self._run_lua(function)

    def _run_lua(self, function: Any) -> None:
        error = self.lua.run(function)
        if error is not None:
            self.push_error(RUNTIME, f"TSP Runtime error {self._where(error)}")

    @staticmethod
    def _where(message: str) -> str:
        position = _POSITION.match(message)
        return f"at line {position[1]}: {message[position.end() :]}" if position else f": {message}"

    def _script_line(self, text: str) -> None:
        """``loadscript NAME`` ... ``endscript``: the lines between are the script."""
        assert self._script is not None
        name, run, lines = self._script
        if text.strip() != "endscript":
            lines.append(text)
            return
        self._script = None
        source = "\n".join(lines)
        ok, function = self.lua.compile(source, f"={name or 'script'}")
        if not ok:
            self.push_error(SYNTAX, f"TSP Syntax error {self._where(str(function))}")
            return
        script = self.make_script(function, name or "anonymous", source)
        if name:
            self.lua.env[name] = script
        else:
            self.lua.env.script = self.lua.table(anonymous=script)
        if run:
            self._run_lua(function)

    # --------------------------------------------------------- common commands

    def command_reset(self, unit: ProgramUnit) -> None:
        self.lua_reset()

    def command_trigger(self, unit: ProgramUnit) -> None:
        self.bus_trigger()

    def command_wait(self, unit: ProgramUnit) -> None:
        self.wait_for_runs()

    def query_operation_complete(self, unit: ProgramUnit) -> str:
        self.wait_for_runs()
        return "1"

    def reset_state(self) -> None:
        super().reset_state()
        self.reset_trigger(self.tree.channels)
        self.limit_bits = {}
        self.number_format()

    def source_delay(self, channel: int = 1) -> float:
        """Auto delays (-1) are taken as none; the measure delay adds to the source's."""
        s = self.state
        return max(0.0, float(s[(channel, "source_delay")])) + max(0.0, float(s[(channel, "measure_delay")]))

    def compliance_bits(self, channel: int) -> int:
        return self.limit_bits.get(channel, 0)

    # ------------------------------------------------- the objects' callbacks (lua_*)

    def lua_out(self, text: str) -> None:
        self._out.append(text.encode("latin-1", "replace") + b"\n")

    def lua_get(self, channel: int, key: str) -> tuple[None, Any]:
        return None, self.attributes[key].to_lua(self.state[(channel, key)])

    def lua_set(self, channel: int, key: str, value: Any) -> tuple[str] | None:
        attribute = self.attributes[key]
        if self.runs:  # the steps due so far were taken as things were
            self.collect()
        try:
            self.state[(channel, key)] = attribute.from_lua(value)
        except TypeError as error:
            return (str(error),)
        except Refused as refused:
            self.push_error(OUT_OF_RANGE, f"Parameter data out of range: {refused}")
            return None
        if key == "ascii_precision":
            self.number_format()
        if key in ("voltage", "current") and self.timing is not None and self.state[(channel, "output")]:
            self.spend(self.source_delay(channel))  # the source settles before the next reading
        return None

    def number_format(self) -> None:
        """``print``'s format for numbers, as ``format.asciiprecision`` says, into the Lua state."""
        if hasattr(self, "_set_format"):  # not while the twin is being made
            self._set_format(f"%.{int(self.state[(1, 'ascii_precision')]) - 1}e")

    def lua_measure(self, channel: int, kind: str, first: int, second: int) -> tuple[Any, ...]:
        """``smua.measure.<kind>([buffer[, buffer]])``: ``measure.count`` readings, the last answered."""
        self.collect()
        ids = (int(first), int(second))
        self.fresh(ids)
        s = self.state
        values: tuple[float, ...] = ()
        for k in range(int(s[(channel, "measure_count")])):
            if self.timing is not None:
                wait = float(s[(channel, "measure_interval")]) if k else 0.0
                self.spend(
                    max(wait, max(0.0, float(s[(channel, "measure_delay")])) + self.reading_time(channel))
                )
            voltage, current = self.measured_at(channel)
            self.limit_bits[channel] = (
                (2 if self.sourced(channel) == "voltage" else 1) if self.in_compliance else 0
            )
            values = {"v": (voltage,), "i": (current,), "iv": (current, voltage)}.get(kind) or (
                (voltage / current if current else float("nan"),) if kind == "r" else (voltage * current,)
            )
            self.record(kind, ids, values, float(s[(channel, self.sourced(channel))]))
        return (None, *values)

    def lua_smu_reset(self, channel: int) -> None:
        self.abort_runs(channel)
        for attribute in self.smu_attributes:
            self.state[(channel, attribute.key)] = attribute.default

    def lua_reset(self) -> None:
        self.abort_runs()
        self.reset_state()
