"""Keysight B2901A / B2902A precision source/measure unit, channel 1.

SCPI from the Keysight B2900 Series SCPI Command Reference. Unusual: measurements
take a channel list (``:MEAS? (@1)``) and answer the elements chosen by
``:FORMat:ELEMents:SENSe``; the source mode is ``:SOUR:FUNC:MODE``.
"""

from __future__ import annotations

from .settings import Choice, Number, Switch
from .shared_settings import LINE_FREQUENCY, OFFSET_COMPENSATION
from .sourcemeter import SourceMeter
from .specs import Limits, Ranges, Scpi, Variant
from .sweeps import SweepScpi, values


def _setup_b2900(function: str, levels: list[float], delay: float) -> list[str]:
    """LIST mode (SCPI command reference, :SOURce:LIST): the transient delay before each
    step, a trigger per level, the trace buffer fed with each reading."""
    return [
        f":SOUR:{function}:MODE LIST",
        f":SOUR:LIST:{function} {values(levels)}",
        f":TRIG:TRAN:DEL {delay:.6g}",
        f":TRIG:COUN {len(levels)}",
        ":TRAC:CLE",
        f":TRAC:POIN {len(levels)}",
        ":TRAC:FEED:CONT NEXT",
    ]


SWEEP_B2900 = SweepScpi(
    setup=_setup_b2900,
    start=":INIT (@1)",
    count_query=":TRAC:POIN:ACT?",
    data_query=lambda start, stop: f":TRAC:DATA? {start},{stop - start}",
    data_is_whole_buffer=False,
    abort=":ABOR (@1)",
    teardown=lambda function: [f":SOUR:{function}:MODE FIX", ":TRAC:FEED:CONT NEV", ":TRIG:COUN 1"],
)


class KeysightB2901(SourceMeter):
    model = "keysight_b2901"
    identity_pattern = r"B29(?:0[12]|1[12])[AB]?\b"
    series = "Keysight B2900 series (B2901, B2902, B2911, B2912)"
    # datasheet (DC): 1.515 A up to 6 V, 1.05 A up to 21 V, 105 mA up to 210 V
    limits = Limits(
        max_voltage=210.0,
        max_current=1.515,
        current_limit_range=(1e-12, 1.515),
        voltage_limit_range=(0.02, 210.0),
        envelope=((6.0, 1.515), (21.0, 1.05), (210.0, 0.105)),
    )
    # 200 mV .. 200 V and 10 nA .. 1.5 A (DC) ranges
    ranges = Ranges((0.2, 200.0), (1e-8, 1.5), (0.2, 200.0), (1e-8, 1.5))
    scpi = Scpi(
        source_voltage=":SOUR:FUNC:MODE VOLT",
        source_current=":SOUR:FUNC:MODE CURR",
        source_query=":SOUR:FUNC:MODE?",
        voltage_level=":SOUR:VOLT {value:.6E}",
        current_level=":SOUR:CURR {value:.6E}",
        voltage_level_query=":SOUR:VOLT?",
        current_level_query=":SOUR:CURR?",
        current_limit=":SENS:CURR:PROT {value:.6E}",
        voltage_limit=":SENS:VOLT:PROT {value:.6E}",
        current_limit_query=":SENS:CURR:PROT?",
        voltage_limit_query=":SENS:VOLT:PROT?",
        configure=(":FORM:ELEM:SENS VOLT,CURR",),
        elements_query=":FORM:ELEM:SENS?",
        resistance_on=(':SENS:FUNC:ON "VOLT","CURR","RES"', ":FORM:ELEM:SENS VOLT,CURR,RES"),
        resistance_off=(':SENS:FUNC:OFF "RES"', ":FORM:ELEM:SENS VOLT,CURR"),
        reading_query=":MEAS? (@1)",
    )
    sweep_scpi = SWEEP_B2900

    nplc = Number(
        ":SENS:CURR:NPLC {value};:SENS:VOLT:NPLC {value}",
        ":SENS:CURR:NPLC?",
        low=4e-4,
        high=100.0,
        unit="PLC",
        doc="Integration time of each reading, in power-line cycles (:SENSe:<function>:NPLCycles).",
    )
    remote_sense = Switch(
        ":SENS:REM {value}",
        ":SENS:REM?",
        doc="4-wire (remote) sense (:SENSe:REMote).",
    )
    line_frequency = LINE_FREQUENCY
    offset_compensation = OFFSET_COMPENSATION
    source_delay = Number(
        ":TRIG:TRAN:DEL {value}",
        ":TRIG:TRAN:DEL?",
        low=0.0,
        high=100000.0,
        unit="s",
        doc="Settling time after each source step (:TRIGger:TRANsient:DELay); no automatic delay.",
    )
    aperture = Number(
        ":SENS:CURR:APER {value};:SENS:VOLT:APER {value}",
        ":SENS:CURR:APER?",
        low=8e-6,
        high=2.0,
        unit="s",
        doc="Integration time in seconds (the B2900's other speed control; NPLC follows it).",
    )
    output_off_state = Choice(
        ":OUTP:OFF:MODE {value}",
        ":OUTP:OFF:MODE?",
        words={"zero": "ZERO", "high_impedance": "HIZ", "normal": "NORM"},
        doc="What the output does when turned off (:OUTPut:OFF:MODE).",
    )
    # no averaging filter and no autozero switch: its aperture and NPLC are the speed controls


class KeysightB2902(KeysightB2901):
    """The two-channel B2902A/B2912A: this driver is channel 1, ``channel(2)`` the other
    (each a source-meter of its own, sharing the connection)."""

    model = "keysight_b2902"
    identity_pattern = r"B29[01]2[AB]?\b"
    series = "Keysight B2902/B2912 (two channels)"
    channels = 2


#: the B2910 series (precision: 10 fA resolution): the B2900's SCPI, twin and channels. From
#: memory (B2900A series datasheet, not found in the references at hand): 10 nA .. 3 A
#: ranges, 3.03 A DC up to 6 V, 1.515 A to 21 V, 105 mA to 210 V (the B2901/B2902 drivers
#: keep their more cautious 1.515 A and 1.5 A ranges: see docs/design.md).
B2910_LIMITS = Limits(210.0, 3.03, (1e-12, 3.03), (0.02, 210.0), ((6.0, 3.03), (21.0, 1.515), (210.0, 0.105)))
B2910_RANGES = Ranges((0.2, 200.0), (1e-8, 3.0), (0.2, 200.0), (1e-8, 3.0))
B2901_VARIANTS = (
    Variant(
        "keysight_b2911",
        "Keysight Technologies,B2911A,MY52140001,3.4.2011.5100",
        B2910_LIMITS,
        B2910_RANGES,
        ("GPIB0::21::INSTR",),
    ),
)
B2902_VARIANTS = (
    Variant(
        "keysight_b2912",
        "Keysight Technologies,B2912A,MY52140002,3.4.2011.5100",
        B2910_LIMITS,
        B2910_RANGES,
        ("GPIB0::20::INSTR",),
    ),
)
