"""The Keithley 2450 twin's behaviour: reading buffers, its sweeps' trigger model, *LANG."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .scpi import ProgramUnit
from .scpi_errors import ScpiError
from .scpi_params import mnemonic_forms
from .sourcemeter_twin import NOT_MEASURED, SourceMeterTwin, number, sweep_levels

#: the fewest readings a buffer holds (reference manual, :TRACe:POINts)
MIN_BUFFER = 10


#: the reading buffer's elements the twin keeps, short or long form -> the entry's key
ELEMENTS = {
    form: key
    for word, key in (
        ("READing", "READ"),
        ("SOURce", "SOUR"),
        ("RELative", "REL"),
        ("SEConds", "SEC"),
        ("STATus", "STAT"),
    )
    for form in mnemonic_forms(word)
}
DEFAULT_BUFFER = '"defbuffer1"'


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _deviation(values: Sequence[float]) -> float:
    """The sample standard deviation (n - 1), as the 2400's :CALCulate3 takes it too."""
    mean = _mean(values)
    return (sum((x - mean) ** 2 for x in values) / max(len(values) - 1, 1)) ** 0.5


#: ``:TRACe:STATistics:<statistic>? ["<buffer>"]``: over the readings of a buffer
STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {
    "AVER": _mean,
    "MAX": max,
    "MIN": min,
    "PK2P": lambda v: max(v) - min(v),
    "STDD": _deviation,
}


class Keithley2450Twin(SourceMeterTwin):
    """Keithley 2450: every reading goes into a reading buffer (reference manual §8).

    In the TSP command set (``*LANG TSP``, bench entry ``language: TSP``) it takes the
    common commands only; every SCPI command is an error, as Lua would make of it.
    """

    BUFFER_SIZE = 100_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.buffers: dict[str, list[dict[str, float]]] = {"DEFBUFFER1": [], "DEFBUFFER2": []}
        #: readings each buffer holds (``:TRACe:POINts``); the oldest goes when it is full
        self.capacity = dict.fromkeys(self.buffers, self.BUFFER_SIZE)
        #: the trigger model a sweep command built: (levels, delay, buffer)
        self.planned: tuple[list[float], float, str] | None = None
        super().__init__(*args, **kwargs)

    def execute(self, message: str) -> None:
        if self.state[(1, "language")] == "TSP" and not message.lstrip().startswith("*"):
            self.push_error(-113)
            return
        super().execute(message)

    def _take(self, buffer: str, function: str | None = None) -> dict[str, float]:
        """``:COUNt`` readings into ``buffer`` (manual: [:SENSe[1]]:COUNt); returns the last.
        A ``function`` becomes the measure function, and stays (``:MEASure:<function>?``)."""
        if function is not None:
            self.state[(1, "sense_function")] = (function,)
        key = self._key(buffer)
        sense = self.state[(1, "sense_function")][0]
        source_is_voltage = self.sourced(1) == "voltage"
        entry: dict[str, float] = {}
        for _ in range(int(self.state[(1, "count")])):
            voltage, current = self.terminals()
            entry = self._entry(voltage, current, sense, source_is_voltage)
            self._store(key, entry)
        return entry

    def _entry(self, voltage: float, current: float, sense: str, source_is_voltage: bool) -> dict[str, float]:
        """A reading of the measure function ``sense`` (resistance: V / I), with the source
        value read back as measured (reference manual, :SOURce:<function>:READ:BACK)."""
        if sense.startswith("VOLT"):
            reading = voltage
        elif sense.startswith("RES"):
            reading = voltage / current if current else NOT_MEASURED
        else:
            reading = current
        now = self.elapsed()
        source = voltage if source_is_voltage else current
        return {"READ": reading, "SOUR": source, "REL": now, "SEC": now, "STAT": 0.0}

    def _store(self, key: str, entry: dict[str, float]) -> None:
        store = self.buffers[key]
        while len(store) >= self.capacity[key]:
            store.pop(0)  # fill mode CONTinuous: the oldest reading goes
        store.append(entry)

    def _key(self, name: str) -> str:
        key = name.strip("'\"").upper()
        if key not in self.buffers:
            raise ScpiError(-224, f"no reading buffer {name}")
        return key

    def _buffer(self, name: str) -> list[dict[str, float]]:
        return self.buffers[self._key(name)]

    @staticmethod
    def _elements(params: Sequence[str]) -> list[str]:
        """Buffer elements in short or long form (``READing``, ``SOURce``, ``RELative``, ...)."""
        out = []
        for p in params:
            element = ELEMENTS.get(p.strip().upper())
            if element is None:
                raise ScpiError(-224, f"buffer element {p}: the twin keeps {', '.join(sorted(ELEMENTS))}")
            out.append(element)
        return out or ["READ"]

    def _answer_reading(self, unit: ProgramUnit, function: str | None = None) -> str:
        """``:READ?``/``:MEASure[:<function>]? ["<buffer>"[, <elements>]]``: readings into the
        buffer, the last one's elements answered."""
        entry = self._take(unit.params[0] if unit.params else DEFAULT_BUFFER, function)
        if len(unit.params) < 2:  # the reading alone: the common case, kept short
            return number(entry["READ"])
        return ",".join(number(entry[e]) for e in self._elements(unit.params[1:]))

    def query_read(self, unit: ProgramUnit) -> str:
        return self._answer_reading(unit)

    def query_measure_current(self, unit: ProgramUnit) -> str:
        return self._answer_reading(unit, "CURR:DC")

    def query_measure_voltage(self, unit: ProgramUnit) -> str:
        return self._answer_reading(unit, "VOLT:DC")

    def query_measure_resistance(self, unit: ProgramUnit) -> str:
        return self._answer_reading(unit, "RES")

    def query_fetch(self, unit: ProgramUnit) -> str:
        """``:FETCh? ["<buffer>"[, <elements>]]``: the buffer's last reading, none taken."""
        self.collect()
        buffer = self._buffer(unit.params[0] if unit.params else DEFAULT_BUFFER)
        if not buffer:
            raise ScpiError(-230, "the buffer is empty")
        return ",".join(number(buffer[-1][e]) for e in self._elements(unit.params[1:]))

    def query_buffer_statistic(self, unit: ProgramUnit) -> str:
        """``:TRACe:STATistics:AVERage|MAXimum|MINimum|PK2Pk|STDDev? ["<buffer>"]``: the
        statistic (the header's last node) of the buffer's readings; none: 9.91E+37."""
        self.collect()
        readings = [e["READ"] for e in self._buffer(unit.params[0] if unit.params else DEFAULT_BUFFER)]
        statistic = STATISTICS[mnemonic_forms(unit.command.pattern.rsplit(":", 1)[1])[0]]
        return number(statistic(readings) if readings else NOT_MEASURED)

    def command_buffer_size(self, unit: ProgramUnit) -> None:
        """``:TRACe:POINts <n>[, "<buffer>"]``: how many readings the buffer holds."""
        if not unit.params:
            raise ScpiError(-109, ":TRACe:POINts <n>")
        key = self._key(unit.params[1] if len(unit.params) > 1 else DEFAULT_BUFFER)
        try:
            size = round(float(unit.params[0]))
        except ValueError:
            raise ScpiError(-104, f":TRACe:POINts takes a number, got {unit.params[0]}") from None
        if not MIN_BUFFER <= size <= self.BUFFER_SIZE:
            raise ScpiError(-222, f"a buffer of {size}: {MIN_BUFFER} .. {self.BUFFER_SIZE} readings")
        self.capacity[key] = size
        del self.buffers[key][:-size]

    def query_buffer_size(self, unit: ProgramUnit) -> str:
        return str(self.capacity[self._key(unit.params[0] if unit.params else DEFAULT_BUFFER)])

    def query_buffer_count(self, unit: ProgramUnit) -> str:
        self.collect()
        return str(len(self._buffer(unit.params[0] if unit.params else DEFAULT_BUFFER)))

    def query_buffer_data(self, unit: ProgramUnit) -> str:
        self.collect()
        if len(unit.params) < 2:
            raise ScpiError(-109, ":TRACe:DATA? start, end")
        try:
            start, end = int(unit.params[0]), int(unit.params[1])
        except ValueError:
            raise ScpiError(-104, ":TRACe:DATA? start, end are integers") from None
        buffer = self._buffer(unit.params[2] if len(unit.params) > 2 else DEFAULT_BUFFER)
        if not 1 <= start <= end <= len(buffer):
            raise ScpiError(-222, f"index {start}..{end} of {len(buffer)} readings")
        elements = self._elements(unit.params[3:])
        return ",".join(number(entry[e]) for entry in buffer[start - 1 : end] for e in elements)

    def command_buffer_clear(self, unit: ProgramUnit) -> None:
        self.collect()
        self._buffer(unit.params[0] if unit.params else DEFAULT_BUFFER).clear()

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
        self._plan(function, source_list * count, delay, p[4] if len(p) > 4 else DEFAULT_BUFFER)

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
        self._plan(function, levels * count, delay, p[8] if len(p) > 8 else DEFAULT_BUFFER)

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
            self._take(DEFAULT_BUFFER)
            return
        levels, delay, buffer = self.planned
        if not self.state[(1, "output")]:
            self.state[(1, "output")] = True  # the sweep's trigger model turns the output on
        key = self._key(buffer)
        self.buffers[key].clear()  # the sweep's readings start the buffer (QCoDeS reads from 1)
        sense = self.state[(1, "sense_function")][0]  # as the trigger model was started
        source_is_voltage = self.sourced(1) == "voltage"

        def keep(index: int, level: float | None, voltage: float, current: float) -> None:
            self._store(key, self._entry(voltage, current, sense, source_is_voltage))

        self.start_sweep(1, levels, delay, keep)

    def command_reset(self, unit: ProgramUnit) -> None:
        language = self.state[(1, "language")]  # *RST keeps the command set
        self.abort_sweep()
        self.planned = None
        super().command_reset(unit)
        self.state[(1, "language")] = language
        for store in self.buffers.values():
            store.clear()
