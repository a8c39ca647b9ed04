"""Keithley 2600B System SourceMeter family (2601B ... 2636B): TSP, one or two channels.

TSP from the Series 2600B Reference Manual, section 7 "TSP command reference": the
instrument runs Lua chunks; a channel is the object ``smua`` (``smub``), its source and
measure parts ``smua.source``, ``smua.measure``, its buffers ``smua.nvbuffer1`` and
``smua.nvbuffer2``. The same surface as the SCPI models: this driver is ``smua``,
``channel(2)`` is ``smub`` (every command rewritten once, ``smua`` -> ``smub``). Readings
are ``smua.measure.iv()`` (current, then voltage); a reading's resistance is V / I of the
reading itself (what ``measure.r()`` computes) and its power V x I. The instrument-side
sweep is the trigger model (``smua.trigger.source.listv``, ``smua.trigger.measure.iv``
into ``nvbuffer1`` and ``nvbuffer2``, ``smua.trigger.initiate()``), read back with
``printbuffer`` in chunks while it runs. Constants' values where the code needs them as
numbers are from the manual (``smuX.source.offmode``: 0 normal, 1 zero, 2 high impedance)
or, where it says so, from memory.
"""

from __future__ import annotations

from .settings import Number, Range, ReadOnly
from .sourcemeter import SourceMeter
from .specs import Limits, Ranges, Reading, Scpi, Variant
from .sweeps import SweepScpi
from .tsp import TspChoice, TspInstrument, TspSwitch

#: levels a message carries when a sweep's list is sent (longer lists: appended in chunks)
PER_MESSAGE = 100


def _levels(levels: list[float]) -> str:
    return ", ".join(f"{level:.9g}" for level in levels)


def _setup_2600(function: str, levels: list[float], delay: float) -> list[str]:
    """The trigger model as the manual's sweep examples build it: the list, a measurement
    of I and V into ``nvbuffer1``/``nvbuffer2`` at each step, ``delay`` s of source delay,
    the count, immediate stimuli, the source held between steps and after the sweep."""
    kind = "v" if function == "VOLT" else "i"
    chunks = [levels[k : k + PER_MESSAGE] for k in range(0, len(levels), PER_MESSAGE)]
    return [
        f"labrun_levels = {{{_levels(chunks[0])}}}",
        *(
            f"for _, v in ipairs({{{_levels(chunk)}}}) do table.insert(labrun_levels, v) end"
            for chunk in chunks[1:]
        ),
        f"smua.trigger.source.list{kind}(labrun_levels) smua.trigger.source.action = smua.ENABLE",
        f"smua.source.delay = {delay:.6g} smua.trigger.count = {len(levels)} smua.trigger.arm.count = 1",
        "smua.trigger.arm.stimulus = 0 smua.trigger.source.stimulus = 0 smua.trigger.measure.stimulus = 0",
        "smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = smua.SOURCE_HOLD",
        "smua.nvbuffer1.clear() smua.nvbuffer2.clear()",
        "smua.nvbuffer1.appendmode = 0 smua.nvbuffer2.appendmode = 0",
        "smua.trigger.measure.action = smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2)",
    ]


SWEEP_2600 = SweepScpi(
    setup=_setup_2600,
    start="smua.trigger.initiate()",
    count_query="print(smua.nvbuffer1.n)",
    # voltage (nvbuffer2) and current (nvbuffer1) of each reading, 1-based and inclusive
    data_query=lambda start, stop: (
        f"printbuffer({start + 1}, {stop}, smua.nvbuffer2.readings, smua.nvbuffer1.readings)"
    ),
    data_is_whole_buffer=False,
    abort="smua.abort()",
    teardown=lambda function: [
        "smua.trigger.source.action = smua.DISABLE smua.trigger.measure.action = smua.DISABLE"
    ],
    max_points=60_000,
    resistance_in_buffer=False,
)


class Keithley2600(SourceMeter):
    """The 2600B family's driver; each model is a row of :data:`KEITHLEY_2600B`."""

    model = "keithley2600b"
    instrument_class = TspInstrument
    identity_pattern = r"Model 26(?:01|02|11|12|35|36)B\b"
    series = "Keithley 2600B series (2601B, 2602B, 2611B, 2612B, 2635B, 2636B)"
    channels = 2
    resistance_of_reading = True
    # the 2636B's (every model's own are in its row of the table)
    limits = Limits(202.0, 1.515, (1e-10, 1.515), (0.02, 202.0), ((20.2, 1.515), (202.0, 0.101)))
    ranges = Ranges((0.2, 200.0), (1e-9, 1.5), (0.2, 200.0), (1e-9, 1.5))
    scpi = Scpi(
        source_voltage="smua.source.func = smua.OUTPUT_DCVOLTS",
        source_current="smua.source.func = smua.OUTPUT_DCAMPS",
        source_query='print(smua.source.func == smua.OUTPUT_DCAMPS and "CURR" or "VOLT")',
        voltage_level="smua.source.levelv = {value:.9g}",
        current_level="smua.source.leveli = {value:.9g}",
        voltage_level_query="print(smua.source.levelv)",
        current_level_query="print(smua.source.leveli)",
        current_limit="smua.source.limiti = {value:.9g}",
        voltage_limit="smua.source.limitv = {value:.9g}",
        current_limit_query="print(smua.source.limiti)",
        voltage_limit_query="print(smua.source.limitv)",
        reading_query="print(smua.measure.iv())",
        output_on="smua.source.output = smua.OUTPUT_ON",
        output_off="smua.source.output = smua.OUTPUT_OFF",
        output_query='print(smua.source.output == smua.OUTPUT_ON and "ON" or "OFF")',
        # numbers as the SCPI twins send them (7 digits); instrument-wide, as a reading format
        configure=("format.data = format.ASCII format.asciiprecision = 7",),
    )
    sweep_scpi = SWEEP_2600

    @staticmethod
    def on_channel(command: str, channel: int) -> str:
        """``command`` (written for smua) addressed to channel ``channel`` (2: smub)."""
        return command.replace("smua", f"smu{'ab'[channel - 1]}")

    def parse_reading(self, text: str) -> tuple[float, float]:
        """``smua.measure.iv()`` prints the current, then the voltage."""
        current, voltage = text.split("\t")
        return float(voltage), float(current)

    def reading_of(self, voltage: float, current: float, stamp: float) -> Reading:
        reading = super().reading_of(voltage, current, stamp)
        if self._measure_resistance:
            return reading._replace(resistance=voltage / current if current else float("nan"))
        return reading

    nplc = Number(
        "smua.measure.nplc = {value}",
        "print(smua.measure.nplc)",
        low=0.001,
        high=25.0,
        unit="PLC",
        doc="Integration time of each reading, in power-line cycles (smua.measure.nplc).",
    )
    remote_sense = TspSwitch(
        "smua.sense = {value}",
        "print(smua.sense)",
        doc="4-wire (remote) sense: smua.sense = smua.SENSE_REMOTE.",
    )
    voltage_source_range = Range(
        "smua.source.rangev = {value}",
        "print(smua.source.rangev)",
        table="voltage_source",
        unit="V",
        doc="Source range, V.",
    )
    voltage_source_autorange = TspSwitch(
        "smua.source.autorangev = {value}", "print(smua.source.autorangev)", doc="Auto source range."
    )
    current_source_range = Range(
        "smua.source.rangei = {value}",
        "print(smua.source.rangei)",
        table="current_source",
        unit="A",
        doc="Source range, A.",
    )
    current_source_autorange = TspSwitch(
        "smua.source.autorangei = {value}", "print(smua.source.autorangei)", doc="Auto source range."
    )
    voltage_measure_range = Range(
        "smua.measure.rangev = {value}",
        "print(smua.measure.rangev)",
        table="voltage_measure",
        unit="V",
        doc="Measure range, V.",
    )
    voltage_measure_autorange = TspSwitch(
        "smua.measure.autorangev = {value}", "print(smua.measure.autorangev)", doc="Autorange."
    )
    current_measure_range = Range(
        "smua.measure.rangei = {value}",
        "print(smua.measure.rangei)",
        table="current_measure",
        unit="A",
        doc="Measure range, A.",
    )
    current_measure_autorange = TspSwitch(
        "smua.measure.autorangei = {value}", "print(smua.measure.autorangei)", doc="Autorange."
    )
    line_frequency = ReadOnly(
        "print(localnode.linefreq)", from_scpi=float, unit="Hz", doc="Mains frequency, Hz: one PLC is 1/this."
    )
    autozero = TspSwitch(
        "smua.measure.autozero = {value}",
        "print(smua.measure.autozero)",
        on=2,
        doc="Reference and zero taken with each reading (smua.AUTOZERO_AUTO; off: AUTOZERO_OFF).",
    )
    averaging = TspSwitch(
        "smua.measure.filter.enable = {value}",
        "print(smua.measure.filter.enable)",
        doc="The averaging filter.",
    )
    averaging_type = TspChoice(
        "smua.measure.filter.type = {value}",
        "print(smua.measure.filter.type)",
        codes={"repeat": 1, "moving": 0},  # FILTER_REPEAT_AVG, FILTER_MOVING_AVG (median: 2, not offered)
        doc="Repeating (a fresh set per reading) or moving average.",
    )
    averaging_count = Number(
        "smua.measure.filter.count = {value}",
        "print(smua.measure.filter.count)",
        low=1,
        high=100,
        unit="readings",
        doc="Readings averaged.",
    )
    source_delay = Number(
        "smua.source.delay = {value}",
        "print(smua.source.delay)",
        low=0.0,
        high=10000.0,
        unit="s",
        doc="Settling time after each source step, before the reading (smua.source.delay; -1 is auto).",
    )
    source_delay_auto = TspSwitch(
        "smua.source.delay = {value}",
        "print(smua.source.delay)",
        on=-1,
        doc="The delay from the range's table (smua.DELAY_AUTO); off sets the delay to 0.",
    )
    output_off_state = TspChoice(
        "smua.source.offmode = {value}",
        "print(smua.source.offmode)",
        codes={"normal": 0, "high_impedance": 2, "zero": 1},  # 2600B manual, smuX.source.offmode
        doc="What the output does when turned off (smua.source.offmode).",
    )


def _idn(model: str, serial: str) -> str:
    return f"Keithley Instruments Inc., Model {model}, {serial}, 3.2.2"


_LOW_VOLTAGE = Limits(40.4, 3.03, (1e-8, 3.03), (0.01, 40.4), ((6.06, 3.03), (40.4, 1.01)))
_LOW_VOLTAGE_RANGES = Ranges((0.1, 40.0), (1e-7, 3.0), (0.1, 40.0), (1e-7, 3.0))
_HIGH_VOLTAGE = Limits(202.0, 1.515, (1e-8, 1.515), (0.02, 202.0), ((20.2, 1.515), (202.0, 0.101)))
_HIGH_VOLTAGE_RANGES = Ranges((0.2, 200.0), (1e-7, 1.5), (0.2, 200.0), (1e-7, 1.5))

#: the family, flagship first (the tests run the family's driver on its first model). From
#: the 2600B Reference Manual §4 "Operating boundaries": 2601B/2602B 3.03 A up to 6 V and
#: 1.01 A up to 40 V, limits down to 10 mV and 10 nA, ranges 100 mV .. 40 V and 100 nA ..
#: 3 A; 2611B/2612B/2635B/2636B 1.515 A up to 20 V and 101 mA up to 200 V (202 V: the
#: range's limit line), ranges 200 mV .. 200 V. The 2635B/2636B's low-current ranges (1 nA
#: .. 1.5 A) and 100 pA limit as QCoDeS 0.58's table has them; the 10 A pulses are not modelled.
KEITHLEY_2600B = (
    Variant(
        "keithley2636b",
        _idn("2636B", "4321765"),
        Keithley2600.limits,
        Keithley2600.ranges,
        ("GPIB0::26::INSTR", "USB0::0x05E6::0x2636::4321765::INSTR"),
    ),
    Variant(
        "keithley2635b",
        _idn("2635B", "4321764"),
        Keithley2600.limits,
        Keithley2600.ranges,
        ("GPIB0::27::INSTR",),
        channels=1,
    ),
    Variant(
        "keithley2612b", _idn("2612B", "4321763"), _HIGH_VOLTAGE, _HIGH_VOLTAGE_RANGES, ("GPIB0::28::INSTR",)
    ),
    Variant(
        "keithley2611b",
        _idn("2611B", "4321762"),
        _HIGH_VOLTAGE,
        _HIGH_VOLTAGE_RANGES,
        ("GPIB0::29::INSTR",),
        channels=1,
    ),
    Variant(
        "keithley2602b", _idn("2602B", "4321761"), _LOW_VOLTAGE, _LOW_VOLTAGE_RANGES, ("GPIB0::30::INSTR",)
    ),
    Variant(
        "keithley2601b",
        _idn("2601B", "4321760"),
        _LOW_VOLTAGE,
        _LOW_VOLTAGE_RANGES,
        ("GPIB0::15::INSTR",),
        channels=1,
    ),
)
