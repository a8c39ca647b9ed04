"""The Keithley 2450 twin's behaviour: reading buffers, its sweeps' trigger model, *LANG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .scpi import ProgramUnit
from .scpi_errors import ScpiError
from .sourcemeter_twin import SourceMeterTwin, number, sweep_levels


class Keithley2450Twin(SourceMeterTwin):
    """Keithley 2450: every reading goes into a reading buffer (reference manual §8).

    In the TSP command set (``*LANG TSP``, bench entry ``language: TSP``) it takes the
    common commands only; every SCPI command is an error, as Lua would make of it.
    """

    BUFFER_SIZE = 100_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.buffers: dict[str, list[dict[str, float]]] = {"DEFBUFFER1": [], "DEFBUFFER2": []}
        #: the trigger model a sweep command built: (levels, delay, buffer)
        self.planned: tuple[list[float], float, str] | None = None
        super().__init__(*args, **kwargs)

    def execute(self, message: str) -> None:
        if self.state[(1, "language")] == "TSP" and not message.lstrip().startswith("*"):
            self.push_error(-113)
            return
        super().execute(message)

    def _take(self, buffer: str, function: str | None = None) -> dict[str, float]:
        """``:COUNt`` readings into ``buffer`` (manual: [:SENSe[1]]:COUNt); returns the last."""
        if function is not None:
            self.state[(1, "sense_function")] = (function,)
        entry: dict[str, float] = {}
        for _ in range(int(self.state[(1, "count")])):
            entry = self._take_one(buffer)
        return entry

    def _take_one(self, buffer: str) -> dict[str, float]:
        voltage, current = self.terminals()
        sense = self.state[(1, "sense_function")][0]
        source_is_voltage = not self.state[(1, "source_function")].startswith("CURR")
        entry = {
            "READ": voltage if sense.startswith("VOLT") else current,
            "SOUR": voltage if source_is_voltage else current,
            "REL": self.elapsed(),
            "SEC": self.elapsed(),
            "STAT": 0.0,
        }
        store = self._buffer(buffer)
        if len(store) >= self.BUFFER_SIZE:
            store.pop(0)  # fill mode CONTinuous: the oldest reading goes
        store.append(entry)
        return entry

    def _buffer(self, name: str) -> list[dict[str, float]]:
        key = name.strip("'\"").upper()
        if key not in self.buffers:
            raise ScpiError(-224, f"no reading buffer {name}")
        return self.buffers[key]

    @staticmethod
    def _elements(params: Sequence[str]) -> list[str]:
        allowed = {"READ", "READING", "SOUR", "SOURCE", "REL", "RELATIVE", "SEC", "SECONDS", "STAT", "STATUS"}
        out = []
        for p in params:
            word = p.upper()
            if word not in allowed:
                raise ScpiError(-224, f"unknown buffer element {p}")
            out.append(word[:4] if word != "READING" else "READ")
        return out or ["READ"]

    def query_read(self, unit: ProgramUnit) -> str:
        buffer = unit.params[0] if unit.params else '"defbuffer1"'
        entry = self._take(buffer)
        return ",".join(number(entry[e]) for e in self._elements(unit.params[1:]))

    def query_measure_current(self, unit: ProgramUnit) -> str:
        buffer = unit.params[0] if unit.params else '"defbuffer1"'
        return number(self._take(buffer, "CURR:DC")["READ"])

    def query_measure_voltage(self, unit: ProgramUnit) -> str:
        buffer = unit.params[0] if unit.params else '"defbuffer1"'
        return number(self._take(buffer, "VOLT:DC")["READ"])

    def query_buffer_count(self, unit: ProgramUnit) -> str:
        self.collect()
        buffer = unit.params[0] if unit.params else '"defbuffer1"'
        return str(len(self._buffer(buffer)))

    def query_buffer_data(self, unit: ProgramUnit) -> str:
        self.collect()
        if len(unit.params) < 2:
            raise ScpiError(-109, ":TRACe:DATA? start, end")
        try:
            start, end = int(unit.params[0]), int(unit.params[1])
        except ValueError:
            raise ScpiError(-104, ":TRACe:DATA? start, end are integers") from None
        buffer = self._buffer(unit.params[2] if len(unit.params) > 2 else '"defbuffer1"')
        if not 1 <= start <= end <= len(buffer):
            raise ScpiError(-222, f"index {start}..{end} of {len(buffer)} readings")
        elements = self._elements(unit.params[3:])
        return ",".join(number(entry[e]) for entry in buffer[start - 1 : end] for e in elements)

    def command_buffer_clear(self, unit: ProgramUnit) -> None:
        self.collect()
        self._buffer(unit.params[0] if unit.params else '"defbuffer1"').clear()

    # ------------------------------------------------ sweeps: the trigger model

    def _plan(self, function: str, levels: list[float], delay: float, buffer: str) -> None:
        if self.sourced(1) != function:
            raise ScpiError(-221, f"a {function} sweep while sourcing {self.sourced(1)}")
        self._buffer(buffer)  # an unknown buffer is refused now, not at :INIT
        self.planned = (levels, delay, buffer)

    def _sweep_list(self, unit: ProgramUnit, function: str) -> None:
        """``:SOURce:SWEep:<function>:LIST <startIndex>, <delay>[, <count>[, <failAbort>[, "<buffer>"]]]``."""
        p = unit.params
        try:
            first = int(p[0]) if p else 1
            delay = float(p[1]) if len(p) > 1 else 0.0
            count = int(p[2]) if len(p) > 2 else 1
        except ValueError:
            raise ScpiError(-104, "a list sweep takes numbers") from None
        source_list = self.get_list(1, function)[first - 1 :]
        self._plan(function, source_list * count, delay, p[4] if len(p) > 4 else '"defbuffer1"')

    def _sweep_steps(self, unit: ProgramUnit, function: str, spacing: str) -> None:
        """``:SOURce:SWEep:<function>:LINear|LOG <start>, <stop>, <points>[, <delay>[, <count>
        [, <rangeType>[, <failAbort>[, <dual>[, "<buffer>"]]]]]]``."""
        p = unit.params
        if len(p) < 3:
            raise ScpiError(-109, "start, stop, points")
        try:
            start, stop, points = float(p[0]), float(p[1]), int(p[2])
            delay = float(p[3]) if len(p) > 3 else 0.0
            count = int(p[4]) if len(p) > 4 else 1
        except ValueError:
            raise ScpiError(-104, "a sweep takes numbers") from None
        levels = sweep_levels(start, stop, points, spacing)
        if len(p) > 7 and p[7].upper() in ("ON", "1"):  # dual: up, then back down
            levels = levels + levels[-2::-1]
        self._plan(function, levels * count, delay, p[8] if len(p) > 8 else '"defbuffer1"')

    def command_sweep_voltage_list(self, unit: ProgramUnit) -> None:
        self._sweep_list(unit, "voltage")

    def command_sweep_current_list(self, unit: ProgramUnit) -> None:
        self._sweep_list(unit, "current")

    def command_sweep_voltage_linear(self, unit: ProgramUnit) -> None:
        self._sweep_steps(unit, "voltage", "LIN")

    def command_sweep_current_linear(self, unit: ProgramUnit) -> None:
        self._sweep_steps(unit, "current", "LIN")

    def command_sweep_voltage_log(self, unit: ProgramUnit) -> None:
        self._sweep_steps(unit, "voltage", "LOG")

    def command_sweep_current_log(self, unit: ProgramUnit) -> None:
        self._sweep_steps(unit, "current", "LOG")

    def command_initiate(self, unit: ProgramUnit) -> None:
        """``:INITiate``: run the trigger model the last sweep command built (else one reading)."""
        if self.planned is None:
            self._take('"defbuffer1"')
            return
        levels, delay, buffer = self.planned
        if not self.state[(1, "output")]:
            self.state[(1, "output")] = True  # the sweep's trigger model turns the output on
        store = self._buffer(buffer)
        store.clear()  # the sweep's readings start the buffer (QCoDeS reads them from index 1)
        source_is_voltage = self.sourced(1) == "voltage"

        def keep(index: int, level: float | None, voltage: float, current: float) -> None:
            if len(store) >= self.BUFFER_SIZE:
                store.pop(0)
            store.append(
                {
                    "READ": current if source_is_voltage else voltage,
                    "SOUR": voltage if source_is_voltage else current,  # read back, as measured
                    "REL": self.elapsed(),
                    "SEC": self.elapsed(),
                    "STAT": 0.0,
                }
            )

        self.start_sweep(1, levels, delay, keep)

    def command_reset(self, unit: ProgramUnit) -> None:
        language = self.state[(1, "language")]  # *RST keeps the command set
        self.abort_sweep()
        self.planned = None
        super().command_reset(unit)
        self.state[(1, "language")] = language
        for store in self.buffers.values():
            store.clear()
