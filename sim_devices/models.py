"""What each simulated model computes: the hooks its command tree names.

Why here and not in the tree: readings are computed from the load and the state, and
each model formats them its own way (the 2400's ``:FORM:ELEM``, the 2450's reading
buffers, the B2900's channel lists). Everything else about a model is its data file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import STB_MSB, STB_MSS
from .scpi import ProgramUnit
from .scpi_errors import ERROR_TEXT, ScpiError
from .sourcemeter_twin import SourceMeterTwin, channel_list, number, sweep_levels

ERROR_TEXT.setdefault(803, "Output disabled")  # Keithley 2400 manual, appendix B
ERROR_TEXT.setdefault(-230, "Data corrupt or stale")
ERROR_TEXT.setdefault(-225, "Out of memory")

BUFFER_FULL = 512  # the 2400's measurement event bit 9 (manual §15)


class Keithley2400Twin(SourceMeterTwin):
    """Keithley 2400 (manual §18): ``:FORMat:ELEMents`` picks the elements of a reading,
    always sent in the fixed order VOLT, CURR, RES, TIME, STAT; ``:READ?`` takes
    ``:ARM:COUNt`` x ``:TRIGger:COUNt`` readings, stepping the source when its mode is
    SWEep (§10, "Sweep operation")."""

    ELEMENT_ORDER = ("VOLT", "CURR", "RES", "TIME", "STAT")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.trace: list[dict[str, float]] = []  # the reading buffer
        self.measurement_events = 0
        super().__init__(*args, **kwargs)

    #: no LAN port: served as through a GPIB/RS-232-to-LAN gateway, which serves one
    #: connection at a time; the next waits, unserved, until the first closes
    LAN_SESSIONS = 1
    last: list[float] | None = None

    def _reading(self) -> list[float]:
        s = self.state
        if not s[(1, "output")]:
            # "+803 Output disabled": no reading is taken, so the query gets no answer
            raise ScpiError(803, "reading with output off")
        count = int(s[(1, "arm_count")] * s[(1, "trigger_count")])
        if count > 2500:  # manual §11: arm count x trigger count may not exceed 2500
            raise ScpiError(-221, f"arm count x trigger count = {count} > 2500")
        levels = self.trigger_levels(1, count, int(s[(1, "sweep_points")]), s[(1, "sweep_spacing")])
        chosen = [e for e in self.ELEMENT_ORDER if e in s[(1, "format_elements")]]
        out: list[float] = []
        for level in levels:
            voltage, current = self.terminals(level=level)
            for element in chosen:  # only what is asked for is computed (a hot path)
                if element == "VOLT":
                    out.append(voltage)
                elif element == "CURR":
                    out.append(current)
                elif element == "RES":
                    out.append(self.resistance_of(voltage, current))
                else:
                    out.append(self.elapsed() if element == "TIME" else 0.0)
        return out

    def after_setting(self, channel: int, key: str, value: Any) -> None:
        # STEP and POINts describe the same sweep: setting one recomputes the other
        s = self.state
        for function in ("voltage", "current"):
            span = s[(1, f"{function}_stop")] - s[(1, f"{function}_start")]
            if key == f"{function}_step" and value:
                s[(1, "sweep_points")] = abs(round(span / value)) + 1
            elif key in ("sweep_points", f"{function}_start", f"{function}_stop"):
                points = s[(1, "sweep_points")]
                s[(1, f"{function}_step")] = span / (points - 1) if points > 1 else 0.0

    def query_read(self, unit: ProgramUnit) -> str:
        self.last = self._reading()
        return ",".join(number(v) for v in self.last)

    def query_measure(self, unit: ProgramUnit) -> str:
        # :MEASure? is CONFigure + READ?; it turns the output on (manual §18, :MEASure)
        self.state[(1, "output")] = True
        return self.query_read(unit)

    def command_initiate(self, unit: ProgramUnit) -> None:
        """``:INITiate``: a reading; in LIST mode the whole list sweep, into the buffer
        when ``:TRACe:FEED:CONTrol NEXT`` (manual §10 "List", §9 "Buffer")."""
        s = self.state
        function = self.sourced(1)
        listing = s[(1, f"{function}_mode")] == "LIST"
        if not listing and s[(1, "trace_control")] != "NEXT":
            self.last = self._reading()  # nothing to buffer: the readings wait for :FETCh?
            return
        if not s[(1, "output")]:
            raise ScpiError(803, "a sweep with the output off")
        count = int(s[(1, "arm_count")] * s[(1, "trigger_count")])
        if listing:
            source_list = self.get_list(1, function)
            levels: list[float | None] = (
                [source_list[k % len(source_list)] for k in range(count)] if source_list else []
            )
        else:  # fixed level (or the staircase of SWEep mode), each reading into the buffer
            levels = self.trigger_levels(1, count, int(s[(1, "sweep_points")]), s[(1, "sweep_spacing")])
        delay = s[(1, "source_delay")] + s[(1, "trigger_delay")]
        self.start_sweep(1, levels, delay, self._trace_store)

    def _trace_store(self, index: int, level: float | None, voltage: float, current: float) -> None:
        s = self.state
        if s[(1, "trace_control")] != "NEXT":
            return
        self.trace.append(
            {
                "VOLT": voltage,
                "CURR": current,
                "RES": self.resistance_of(voltage, current),
                "TIME": self.elapsed(),
                "STAT": 0.0,
            }
        )
        if len(self.trace) >= s[(1, "trace_points")]:
            s[(1, "trace_control")] = "NEV"  # the buffer is full: storage stops (manual §9)
            self.measurement_events |= BUFFER_FULL

    # the measurement event register (manual §15): buffer full is its bit 9; enabled, it
    # sets the status byte's measurement summary bit (bit 0)

    def query_measurement_events(self, unit: ProgramUnit) -> str:
        self.collect()
        value, self.measurement_events = self.measurement_events, 0
        return str(value)

    def command_status_preset(self, unit: ProgramUnit) -> None:
        self.state[(1, "measurement_enable")] = 0.0

    def query_status_byte(self, unit: ProgramUnit) -> str:
        self.collect()
        stb = int(super().query_status_byte(unit))
        if self.measurement_events & int(self.state[(1, "measurement_enable")]):
            stb |= STB_MSB
            if self.sre & STB_MSB:
                stb |= STB_MSS
        return str(stb)

    def query_statistics(self, unit: ProgramUnit) -> str:
        """``:CALCulate3:DATA?``: the ``:CALCulate3:FORMat`` statistic of each buffered
        element (voltage, current, resistance: those :FORMat:ELEMents has), manual §9."""
        self.collect()
        if not self.trace:
            raise ScpiError(-230, "the buffer is empty")
        chosen = [e for e in ("VOLT", "CURR", "RES") if e in self.state[(1, "format_elements")]]
        kind = self.state[(1, "statistic")]
        out = []
        for element in chosen:
            values = [entry[element] for entry in self.trace]
            mean = sum(values) / len(values)
            spread = (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5
            statistics = {"MEAN": mean, "SDEV": spread, "MAX": max(values), "MIN": min(values)}
            out.append(statistics.get(kind, max(values) - min(values)))  # PKPK
        return ",".join(number(v) for v in out)

    def command_trace_clear(self, unit: ProgramUnit) -> None:
        self.collect()
        self.trace.clear()

    def query_trace_count(self, unit: ProgramUnit) -> str:
        self.collect()
        return str(len(self.trace))

    def query_trace_data(self, unit: ProgramUnit) -> str:
        """Every stored reading, the ``:FORMat:ELEMents`` of each, in the fixed order."""
        self.collect()
        chosen = [e for e in self.ELEMENT_ORDER if e in self.state[(1, "format_elements")]]
        return ",".join(number(entry[e]) for entry in self.trace for e in chosen)

    def query_fetch(self, unit: ProgramUnit) -> str:
        if self.last is None:
            raise ScpiError(-230, "no reading to fetch")
        return ",".join(number(v) for v in self.last)

    def command_reset(self, unit: ProgramUnit) -> None:
        self.abort_sweep()
        super().command_reset(unit)
        self.last = None
        self.trace.clear()


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


class KeysightB2900Twin(SourceMeterTwin):
    """Keysight B2901A/B2902A: ``:MEASure? (@1)`` style, ``:FORMat:ELEMents:SENSe``."""

    def after_setting(self, channel: int, key: str, value: Any) -> None:
        # aperture and NPLC are one integration time, in seconds and in power-line cycles
        frequency = self.state[(channel, "line_frequency")]
        if key == "aperture":
            for function in ("current", "voltage"):
                self.state[(channel, f"{function}_nplc")] = value * frequency
        elif key in ("current_nplc", "voltage_nplc"):
            self.state[(channel, "aperture")] = value / frequency

    def _measure(self, channel: int, level: float | None = None) -> tuple[float, float]:
        if not self.state[(channel, "output")] and self.state[(channel, "output_auto_on")]:
            self.state[(channel, "output")] = True  # :OUTPut:ON:AUTO (SCPI command reference)
        return self.terminals(channel, level)

    def command_initiate(self, unit: ProgramUnit) -> None:
        """``:INIT (@1)``: ``:TRIG:COUN`` readings, stepping the source in SWEep mode; in
        LIST mode the list sweep, in the instrument's time, into the trace buffer."""
        channel = channel_list(unit.params, unit.channel, self.tree.channels)
        function = self.sourced(channel)
        if self.state[(channel, f"{function}_mode")] == "LIST":
            self._list_sweep(channel, function)
            return
        points = int(self.state[(channel, f"{self.sourced(channel)}_points")])
        levels = self.trigger_levels(channel, int(self.state[(channel, "trigger_count")]), points)
        self.acquired[channel] = [self._measure(channel, level) for level in levels]

    def _list_sweep(self, channel: int, function: str) -> None:
        s = self.state
        if not s[(channel, "output")] and s[(channel, "output_auto_on")]:
            s[(channel, "output")] = True
        source_list = self.get_list(channel, function)
        count = int(s[(channel, "trigger_count")])
        levels = [source_list[k % len(source_list)] for k in range(count)] if source_list else []
        trace = self.traces.setdefault(channel, [])

        def keep(index: int, level: float | None, voltage: float, current: float) -> None:
            if s[(channel, "trace_control")] == "NEXT" and len(trace) < s[(channel, "trace_points")]:
                trace.append(
                    {
                        "VOLT": voltage,
                        "CURR": current,
                        "RES": self.resistance_of(voltage, current, channel),
                        "TIME": self.elapsed(),
                        "STAT": 0.0,
                        "SOUR": voltage if level is None else level,
                    }
                )

        self.start_sweep(channel, levels, s[(channel, "source_delay")], keep)

    def command_trace_clear(self, unit: ProgramUnit) -> None:
        self.collect()
        self.traces.pop(unit.channel, None)

    def query_trace_count(self, unit: ProgramUnit) -> str:
        self.collect()
        return str(len(self.traces.get(unit.channel, [])))

    def query_trace_data(self, unit: ProgramUnit) -> str:
        """``:TRACe:DATA? [offset[, size]]``: the stored readings' ``:FORMat:ELEMents:SENSe``."""
        self.collect()
        trace = self.traces.get(unit.channel, [])
        try:
            offset = int(unit.params[0]) if unit.params else 0
            size = int(unit.params[1]) if len(unit.params) > 1 else len(trace) - offset
        except ValueError:
            raise ScpiError(-104, ":TRACe:DATA? offset, size are integers") from None
        if not (0 <= offset <= len(trace) and 0 <= size <= len(trace) - offset):
            raise ScpiError(-222, f"offset {offset}, size {size} of {len(trace)} readings")
        elements = self.state[(unit.channel, "format_elements")]
        return ",".join(number(entry[e]) for entry in trace[offset : offset + size] for e in elements)

    def _fetched(self, unit: ProgramUnit) -> list[tuple[float, float]]:
        channel = channel_list(unit.params, unit.channel, self.tree.channels)
        if not self.acquired.get(channel):
            raise ScpiError(-230, "nothing acquired: send :INIT first")
        return self.acquired[channel]

    def query_fetch_currents(self, unit: ProgramUnit) -> str:
        return ",".join(number(i) for _, i in self._fetched(unit))

    def query_fetch_voltages(self, unit: ProgramUnit) -> str:
        return ",".join(number(v) for v, _ in self._fetched(unit))

    def command_reset(self, unit: ProgramUnit) -> None:
        self.abort_sweep()
        super().command_reset(unit)
        self.acquired.clear()
        self.traces.clear()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.acquired: dict[int, list[tuple[float, float]]] = {}
        self.traces: dict[int, list[dict[str, float]]] = {}  # the trace buffer of each channel
        super().__init__(*args, **kwargs)

    def query_measure(self, unit: ProgramUnit) -> str:
        channel = channel_list(unit.params, unit.channel, self.tree.channels)
        voltage, current = self._measure(channel)
        source_is_voltage = not self.state[(channel, "source_function")].startswith("CURR")
        values = {
            "VOLT": voltage,
            "CURR": current,
            "RES": self.resistance_of(voltage, current, channel),
            "TIME": self.elapsed(),
            "STAT": 0.0,
            "SOUR": voltage if source_is_voltage else current,
        }
        return ",".join(number(values[e]) for e in self.state[(channel, "format_elements")])

    def query_measure_current(self, unit: ProgramUnit) -> str:
        return number(self._measure(channel_list(unit.params, unit.channel, self.tree.channels))[1])

    def query_measure_voltage(self, unit: ProgramUnit) -> str:
        return number(self._measure(channel_list(unit.params, unit.channel, self.tree.channels))[0])


#: twin behaviours, by the name a twin data file gives under ``scpi.twin``
BEHAVIOURS: dict[str, type[SourceMeterTwin]] = {
    "keithley2400": Keithley2400Twin,
    "keithley2450": Keithley2450Twin,
    "keysight_b2900": KeysightB2900Twin,
}
