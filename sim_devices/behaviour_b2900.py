"""The Keysight B2900 twin's behaviour: channel lists, LIST sweeps into the trace buffer."""

from __future__ import annotations

from typing import Any

from .scpi import ProgramUnit
from .scpi_errors import ScpiError
from .sourcemeter_twin import NOT_MEASURED, SourceMeterTwin, channel_list, number


class KeysightB2900Twin(SourceMeterTwin):
    """Keysight B2901A/B2902A: ``:MEASure? (@1)`` style, ``:FORMat:ELEMents:SENSe``."""

    def after_setting(self, channel: int, key: str, value: Any) -> None:
        # aperture and NPLC are one integration time, in seconds and in power-line cycles
        frequency = self.state[(1, "line_frequency")]  # :SYST:LFR: the instrument's
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

    def command_abort(self, unit: ProgramUnit) -> None:
        """``:ABORt (@2)`` stops channel 2's sweep only; without a channel list, any."""
        channel = channel_list(unit.params, 0, self.tree.channels)
        if self.sweep is not None and channel in (0, self.sweep.channel):
            self.abort_sweep()

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
        elements = self.state[(1, "format_elements")]  # :FORM:ELEM:SENS: instrument-wide
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

    def _spot(self, unit: ProgramUnit) -> tuple[int, float, float]:
        """A spot measurement on the channel list's channel: (channel, voltage, current)."""
        channel = channel_list(unit.params, unit.channel, self.tree.channels)
        voltage, current = self._measure(channel)
        return channel, voltage, current

    def _enabled(self, channel: int) -> str:
        """The enabled functions, as one string to look a name up in (``"VOLT" in ...``): a
        function not enabled is not measured, +9.91E+37 (SCPI reference, :MEASure?)."""
        return " ".join(self.state[(channel, "sense_function")])

    def query_measure(self, unit: ProgramUnit) -> str:
        channel, voltage, current = self._spot(unit)
        enabled = self._enabled(channel)
        source_is_voltage = not self.state[(channel, "source_function")].startswith("CURR")
        values = {
            "VOLT": voltage if "VOLT" in enabled else NOT_MEASURED,
            "CURR": current if "CURR" in enabled else NOT_MEASURED,
            "RES": voltage / current if current and "RES" in enabled else NOT_MEASURED,
            "TIME": self.elapsed(),
            "STAT": 0.0,
            "SOUR": voltage if source_is_voltage else current,
        }
        return ",".join(number(values[e]) for e in self.state[(1, "format_elements")])

    def query_measure_current(self, unit: ProgramUnit) -> str:
        channel, _, current = self._spot(unit)
        return number(current if "CURR" in self._enabled(channel) else NOT_MEASURED)

    def query_measure_voltage(self, unit: ProgramUnit) -> str:
        channel, voltage, _ = self._spot(unit)
        return number(voltage if "VOLT" in self._enabled(channel) else NOT_MEASURED)

    def query_measure_resistance(self, unit: ProgramUnit) -> str:
        channel, voltage, current = self._spot(unit)
        return number(voltage / current if current and "RES" in self._enabled(channel) else NOT_MEASURED)

    def command_function_on(self, unit: ProgramUnit) -> None:
        """``:SENSe:FUNCtion[:ON] "RES"``: those functions enabled, the others kept."""
        assert unit.command.setting is not None
        named = unit.command.setting.parse(unit.params)
        key = (unit.channel, "sense_function")
        kept = tuple(f for f in self.state[key] if str(f)[:3] not in {str(n)[:3] for n in named})
        self.state[key] = kept + named
