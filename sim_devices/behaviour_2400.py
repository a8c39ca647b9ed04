"""The Keithley 2400 twin's behaviour: its readings, its buffer, its status register."""

from __future__ import annotations

from typing import Any

from .common import STB_MSB, STB_MSS
from .scpi import ProgramUnit
from .scpi_errors import ScpiError
from .sourcemeter_twin import SourceMeterTwin, number

BUFFER_FULL = 512  # the 2400's measurement event bit 9 (manual §15)
#: the sense function :CONFigure:<function> selects, by hook suffix
SENSE = {"voltage": "VOLT:DC", "current": "CURR:DC", "resistance": "RES"}
#: the integration time is one setting for all functions (manual §18, NPLCycles)
NPLC = ("current_nplc", "voltage_nplc", "resistance_nplc")


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
        if key in NPLC:
            for other in NPLC:
                s[(1, other)] = value
            return
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

    def configure(self, function: str | None) -> None:
        """``:CONFigure:<function>`` (manual §17): that function alone (None: as selected), one
        reading per :READ?, no trigger delay, no buffer, autozero on, idle, the output on. The
        function's other controls keep their values here (the manual defaults them)."""
        s = self.state
        if function is not None:
            s[(1, "sense_function")] = (SENSE[function],)
            if function == "resistance":
                s[(1, "offset_compensation")] = False  # §18 RESistance:OCOMpensated, note
        s[(1, "arm_count")] = s[(1, "trigger_count")] = 1.0
        s[(1, "trigger_delay")] = 0.0
        s[(1, "trace_control")] = "NEV"
        s[(1, "autozero")] = True
        s[(1, "output")] = True
        if self.sweep is not None:
            self.abort_sweep()

    def query_measure(self, unit: ProgramUnit) -> str:
        """``:MEASure?``: :CONFigure of the selected function, then :READ? (manual §17)."""
        self.configure(None)
        return self.query_read(unit)

    def query_measure_voltage(self, unit: ProgramUnit) -> str:
        self.configure("voltage")
        return self.query_read(unit)

    def query_measure_current(self, unit: ProgramUnit) -> str:
        self.configure("current")
        return self.query_read(unit)

    def query_measure_resistance(self, unit: ProgramUnit) -> str:
        self.configure("resistance")
        return self.query_read(unit)

    def command_configure_voltage(self, unit: ProgramUnit) -> None:
        self.configure("voltage")

    def command_configure_current(self, unit: ProgramUnit) -> None:
        self.configure("current")

    def command_configure_resistance(self, unit: ProgramUnit) -> None:
        self.configure("resistance")

    def query_configured(self, unit: ProgramUnit) -> str:
        """``:CONFigure?``: the active functions, as ``:SENSe:FUNCtion?`` names them."""
        return ",".join(f'"{f}"' for f in self.state[(1, "sense_function")])

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
