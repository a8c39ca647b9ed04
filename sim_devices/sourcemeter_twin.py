"""A simulated source-meter: a SCPI instrument with a load behind its output.

The load (resistor, diode, ...) gives each reading its current from the voltage, with
noise, compliance clipping and the output-off state; each model's behaviour
(``behaviour_*.py``) formats the readings its own way.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Sequence

from .loads import Load, Resistor, source_and_measure
from .scpi import ProgramUnit
from .scpi_errors import ScpiError
from .scpi_tree import CommandTree
from .sweeps import SourceLists
from .twin import ScpiTwin

#: what the instruments send for a value that was not taken (IEEE 488.2 not-a-number)
NOT_MEASURED = 9.91e37
#: every sense function, as ``:SENSe:FUNCtion?`` names them
ALL_FUNCTIONS = ("VOLT:DC", "CURR:DC", "RES")


class SourceMeterTwin(SourceLists, ScpiTwin):
    """A source-meter twin: a load behind the output, noise, compliance, output state.

    The model's tree stores its settings under these keys: ``source_function``
    (VOLT|CURR), ``voltage``, ``current``, ``current_limit``, ``voltage_limit``, ``output``.
    """

    #: clients its LAN port serves at once, each its own session (input and output
    #: buffer): messages run whole, one at a time, and each answer goes to its asker
    LAN_SESSIONS = 8

    def __init__(
        self,
        name: str,
        tree: CommandTree,
        *,
        load: Load | None = None,
        noise: float = 1e-4,
        seed: int | None = None,
    ) -> None:
        self.load: Load = load or Resistor()
        #: a channel's own load, where it differs from ``load`` (a circuit's terminal)
        self.loads: dict[int, Load] = {}
        #: the voltage each channel last measured: what it puts on a circuit in current mode
        self.last_voltage: dict[int, float] = {}
        #: relative standard deviation of every reading
        self.noise = noise
        self.started = time.monotonic()
        #: the last reading was limited by the compliance
        self.in_compliance = False
        #: (amplitude A, frequency Hz) of a hum added to the current, or None
        self.hum: tuple[float, float] | None = None
        self.readings = 0  # readings taken with the output on: what a data file should hold
        self.source_lists: dict[tuple[int, str], list[float]] = {}  # :SOURce:LIST, by channel and function
        super().__init__(name, tree)
        self.rng = random.Random(seed)

    def terminals(self, channel: int = 1, level: float | None = None) -> tuple[float, float]:
        """One reading now (or sourcing ``level``): (voltage, current), with noise; with a
        time model it takes the source delay and the reading's time."""
        if self.timing is not None:
            self.spend(self.source_delay(channel) + self.reading_time(channel))
        return self.measured_at(channel, level)

    def measured_at(self, channel: int = 1, level: float | None = None) -> tuple[float, float]:
        """What the instrument measures sourcing ``level`` (None: as set), in no time."""
        s = self.state
        if not s[(channel, "output")]:
            return self._noisy(0.0, 1e-6), self._noisy(0.0, 1e-12)
        self.readings += 1
        mode = s[(channel, "source_function")]
        if level is None:
            level = s[(channel, self.sourced(channel))]
        current_limit, voltage_limit = s[(channel, "current_limit")], s[(channel, "voltage_limit")]
        load = self.loads.get(channel, self.load)
        voltage, current = source_and_measure(load, mode, level, current_limit, voltage_limit)
        self.last_voltage[channel] = voltage
        if self.hum is not None:  # mains pickup on the current reading, as on a real bench
            amplitude, frequency = self.hum
            current += amplitude * math.sin(2 * math.pi * frequency * self.elapsed())
        # the limited quantity sits at its limit when the compliance clips
        if mode.startswith("CURR"):
            self.in_compliance = abs(voltage) >= voltage_limit
        else:
            self.in_compliance = abs(current) >= current_limit
        return self._noisy(voltage, 1e-6), self._noisy(current, 1e-12)

    def terminal_voltage(self, channel: int) -> float:
        """The voltage the channel puts on what is wired to it now (a circuit asks): its
        level sourcing voltage, its last measured voltage sourcing current, 0 V when off
        (the output-off state zero; a high-impedance output is taken as 0 V too)."""
        s = self.state
        if not s[(channel, "output")]:
            return 0.0
        if self.sourced(channel) == "voltage":
            return float(s[(channel, "voltage")])
        return self.last_voltage.get(channel, 0.0)

    def reading_time(self, channel: int = 1) -> float:
        """Seconds one reading takes now (NPLC, line frequency, averaging, autozero)."""
        assert self.timing is not None
        s = self.state
        nplc = s.get((channel, "current_nplc"), 1.0)
        averaging = int(s.get((channel, "averaging_count"), 1)) if s.get((channel, "averaging")) else 1
        autozero = bool(s.get((channel, "autozero"), False))
        return self.timing.reading(
            nplc, s.get((1, "line_frequency"), 50.0), averaging=averaging, autozero=autozero
        )

    def source_delay(self, channel: int = 1) -> float:
        """Seconds the source settles before each reading (the model's delay setting)."""
        s = self.state
        return float(
            s.get((channel, "source_delay"), s.get((channel, f"{self.sourced(channel)}_delay"), 0.0))
        )

    def resistance_of(self, voltage: float, current: float, channel: int = 1) -> float:
        """V / I when resistance is among the sense functions, else the not-measured value."""
        functions = self.state.get((channel, "sense_function"), ())
        if not any(str(f).startswith("RES") for f in functions) or current == 0:
            return NOT_MEASURED
        return voltage / current

    def command_function_off(self, unit: ProgramUnit) -> None:
        """``:SENSe:FUNCtion:OFF "RES"``: those functions are no longer measured."""
        off = {p.strip("'\"").upper()[:4] for p in unit.params}
        functions = self.state[(unit.channel, "sense_function")]
        self.state[(unit.channel, "sense_function")] = tuple(f for f in functions if str(f)[:4] not in off)

    def command_function_all(self, unit: ProgramUnit) -> None:
        """``:SENSe:FUNCtion:ALL``: voltage, current and resistance all measured."""
        self.state[(unit.channel, "sense_function")] = ALL_FUNCTIONS

    def command_function_none(self, unit: ProgramUnit) -> None:
        """``:SENSe:FUNCtion:OFF:ALL``: no function measured."""
        self.state[(unit.channel, "sense_function")] = ()

    def sourced(self, channel: int = 1) -> str:
        """``voltage`` or ``current``: what the channel sources (and the state keys' prefix)."""
        return "current" if self.state[(channel, "source_function")].startswith("CURR") else "voltage"

    def trigger_levels(
        self, channel: int, count: int, points: int, spacing: str = "LIN"
    ) -> list[float | None]:
        """The level of each of ``count`` readings: the staircase in SWEep mode, else None (as set)."""
        function = self.sourced(channel)
        if self.state[(channel, f"{function}_mode")] != "SWE":
            return [None] * count
        s = self.state
        steps = sweep_levels(
            s[(channel, f"{function}_start")], s[(channel, f"{function}_stop")], points, spacing
        )
        return [steps[min(i, len(steps) - 1)] for i in range(count)]

    def query_compliance_tripped(self, unit: ProgramUnit) -> str:
        return "1" if self.in_compliance else "0"

    def command_output_off(self, unit: ProgramUnit) -> None:
        self.state[(unit.channel, "output")] = False

    def _noisy(self, value: float, floor: float) -> float:
        if not self.noise:
            return value
        return value + self.rng.gauss(0.0, self.noise * abs(value) + floor * self.noise * 1e4)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def sweep_levels(start: float, stop: float, points: int, spacing: str = "LIN") -> list[float]:
    """The source levels of an instrument's own staircase sweep."""
    points = max(1, int(points))
    if points == 1:
        return [start]
    if spacing.startswith("LOG") and start * stop > 0:
        ratio = (stop / start) ** (1 / (points - 1))
        return [start * ratio**i for i in range(points)]
    return [start + (stop - start) * i / (points - 1) for i in range(points)]


def number(value: float) -> str:
    """Readings as the instruments send them: ``+1.000000E-03``."""
    return f"{value:+.6E}"


_CHANNEL_LIST = re.compile(r"^\(@\s*(\d+)(?:\s*[,:]\s*(\d+))*\s*\)$")


def channel_list(params: Sequence[str], default: int, channels: int) -> int:
    """The channel of a ``(@1)`` channel-list parameter (Keysight B2900)."""
    if not params:
        return default
    m = _CHANNEL_LIST.match(params[-1])
    if not m:
        raise ScpiError(-104, f"channel list expected, got {params[-1]}")
    channel = int(m.group(1))
    if not 1 <= channel <= channels:
        raise ScpiError(-224, f"no channel {channel} on this model")
    return channel
