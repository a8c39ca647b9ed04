"""Keithley 2450 SourceMeter, SCPI command set (not TSP).

SCPI from the Model 2450 Reference Manual, section 6. Unusual: the compliance is a
property of the source (``:SOUR:VOLT:ILIM``, ``:SOUR:CURR:VLIM``), and every reading
goes to a buffer; ``:READ? "defbuffer1", SOUR, READ`` answers the source readback
(measured, as ``:SOUR:...:READ:BACK ON``) and the measured sense value.
"""

from __future__ import annotations

from .errors import WrongInstrument
from .settings import Choice, Number, Switch
from .shared_settings import KEITHLEY_OFF_STATE, LINE_FREQUENCY, OFFSET_COMPENSATION
from .sourcemeter import SourceMeter
from .specs import Limits, Ranges, Scpi, Variant
from .sweeps import SweepScpi, source_list

BUFFER = '"defbuffer1"'


def _setup_2450(function: str, levels: list[float], delay: float) -> list[str]:
    """A list sweep builds the trigger model (reference manual, :SOURce:SWEep:<f>:LIST):
    start at index 1, ``delay`` s before each reading, once, no abort on limit, into
    defbuffer1; at most 100 list values a command, the rest appended."""
    return [
        *source_list(function, levels),
        f":TRAC:CLE {BUFFER}",
        f":SOUR:SWE:{function}:LIST 1, {delay:.6g}, 1, OFF, {BUFFER}",
    ]


SWEEP_2450 = SweepScpi(
    setup=_setup_2450,
    start=":INIT",
    count_query=f":TRAC:ACT? {BUFFER}",
    data_query=lambda start, stop: f":TRAC:DATA? {start + 1}, {stop}, {BUFFER}, SOUR, READ",
    data_is_whole_buffer=False,
    abort=":ABOR",
    teardown=lambda function: [],  # the trigger model stays; a :READ? takes one reading again
    pairs_are_source_and_reading=True,
)


class Keithley2450(SourceMeter):
    model = "keithley2450"
    identity_pattern = r"MODEL 24(?:50|60|61|70)\b"
    series = "Keithley 2450 series (2450, 2460, 2461, 2470)"
    limits = Limits(
        max_voltage=210.0,
        max_current=1.05,
        current_limit_range=(1e-9, 1.05),
        voltage_limit_range=(0.02, 210.0),
        envelope=((21.0, 1.05), (210.0, 0.105)),
    )
    # 20 mV .. 200 V (to 210 V) and 10 nA .. 1 A (to 1.05 A) ranges
    ranges = Ranges((0.02, 210.0), (1e-8, 1.05), (0.02, 210.0), (1e-8, 1.05))
    # the sense function follows the mode: measure what is not sourced
    scpi = Scpi(
        source_voltage=':SOUR:FUNC VOLT;:SENS:FUNC "CURR"',
        source_current=':SOUR:FUNC CURR;:SENS:FUNC "VOLT"',
        source_query=":SOUR:FUNC?",
        voltage_level=":SOUR:VOLT {value:.6E}",
        current_level=":SOUR:CURR {value:.6E}",
        voltage_level_query=":SOUR:VOLT?",
        current_level_query=":SOUR:CURR?",
        current_limit=":SOUR:VOLT:ILIM {value:.6E}",
        voltage_limit=":SOUR:CURR:VLIM {value:.6E}",
        current_limit_query=":SOUR:VOLT:ILIM?",
        voltage_limit_query=":SOUR:CURR:VLIM?",
        configure=(":SOUR:VOLT:READ:BACK ON", ":SOUR:CURR:READ:BACK ON"),
        reading_query=':READ? "defbuffer1", SOUR, READ',
    )
    sweep_scpi = SWEEP_2450

    nplc = Number(
        ":SENS:CURR:NPLC {value};:SENS:VOLT:NPLC {value}",
        ":SENS:CURR:NPLC?",
        low=0.01,
        high=10.0,
        unit="PLC",
        doc="Integration time of each reading, in power-line cycles ([:SENSe[1]]:<function>:NPLCycles).",
    )
    remote_sense = Switch(
        ":SENS:CURR:RSEN {value};:SENS:VOLT:RSEN {value}",
        ":SENS:CURR:RSEN?",
        doc="4-wire (remote) sense ([:SENSe[1]]:<function>:RSENse).",
    )
    autozero = Switch(
        ":SENS:CURR:AZER {value};:SENS:VOLT:AZER {value}",
        ":SENS:CURR:AZER?",
        doc="Reference and zero taken with each reading.",
    )
    line_frequency = LINE_FREQUENCY
    offset_compensation = OFFSET_COMPENSATION
    output_off_state = KEITHLEY_OFF_STATE
    averaging = Switch(
        ":SENS:CURR:AVER {value};:SENS:VOLT:AVER {value}", ":SENS:CURR:AVER?", doc="The averaging filter."
    )
    averaging_type = Choice(
        ":SENS:CURR:AVER:TCON {value};:SENS:VOLT:AVER:TCON {value}",
        ":SENS:CURR:AVER:TCON?",
        words={"repeat": "REP", "moving": "MOV"},
        doc="Repeating (a fresh set per reading) or moving average.",
    )
    averaging_count = Number(
        ":SENS:CURR:AVER:COUN {value};:SENS:VOLT:AVER:COUN {value}",
        ":SENS:CURR:AVER:COUN?",
        low=1,
        high=100,
        unit="readings",
        doc="Readings averaged.",
    )

    source_delay = Number(
        ":SOUR:VOLT:DEL {value};:SOUR:CURR:DEL {value}",
        ":SOUR:VOLT:DEL?",
        low=0.0,
        high=10000.0,
        unit="s",
        doc="Settling time after each source step, before the reading (:SOURce:<function>:DELay).",
    )
    source_delay_auto = Switch(
        ":SOUR:VOLT:DEL:AUTO {value};:SOUR:CURR:DEL:AUTO {value}",
        ":SOUR:VOLT:DEL:AUTO?",
        doc="The delay from the range's table.",
    )

    def check_identity(self, *, force_model: bool = False) -> str:
        """As every driver, and the command set: a 2450 in TSP mode ignores SCPI."""
        idn = super().check_identity(force_model=force_model)
        language = self.instrument.query("*LANG?").strip().upper()
        if language != "SCPI":
            raise WrongInstrument(
                f"the {self.model} at {self.instrument.resource.resource_name} uses the {language} "
                "command set; labrun speaks SCPI: on the front panel, MENU > System > Settings > "
                "Command Set > SCPI, then restart the instrument (or send *LANG SCPI and power-cycle it)"
            )
        return idn

    def configure(self) -> None:
        super().configure()
        sense = (
            '"VOLT"' if self.instrument.query(self.scpi.source_query).upper().startswith("CURR") else '"CURR"'
        )
        self.instrument.write(f":SENS:FUNC {sense}")

    def parse_reading(self, text: str) -> tuple[float, float]:
        source, measured = super().parse_reading(text)
        return (source, measured) if self._mode == "voltage" else (measured, source)


#: the Touch series' siblings: the 2450's driver (its SCPI command set) and twin. From the
#: 2461's datasheet: 105 V / 7 A DC, 100 W, measure ranges 10 nA .. 7 A and 100 mV .. 100 V
#: (its 10 A pulses are not modelled). From memory: the 2460's envelope (taken as the
#: 2461's: 7.35 A to 7.35 V, 4.2 A to 21 V, 1.05 A to 105 V) and its 1 µA lowest current
#: range; the 2470's 1100 V, 1.05 A to 21 V, 105 mA to 210 V, 10.5 mA to 1100 V, and its
#: 1 nA .. 1 A current ranges.
KEITHLEY_2450_VARIANTS = (
    Variant(
        "keithley2460",
        "KEITHLEY INSTRUMENTS,MODEL 2460,04412345,1.7.3b",
        Limits(105.0, 7.35, (1e-9, 7.35), (0.02, 105.0), ((7.35, 7.35), (21.0, 4.2), (105.0, 1.05))),
        Ranges((0.2, 105.0), (1e-6, 7.35), (0.2, 105.0), (1e-6, 7.35)),
        ("USB0::0x05E6::0x2460::04412345::INSTR",),
    ),
    Variant(
        "keithley2461",
        "KEITHLEY INSTRUMENTS,MODEL 2461,04412346,1.7.3b",
        Limits(105.0, 7.35, (1e-9, 7.35), (0.02, 105.0), ((7.35, 7.35), (21.0, 4.2), (105.0, 1.05))),
        Ranges((0.1, 105.0), (1e-8, 7.35), (0.1, 105.0), (1e-8, 7.35)),
        ("USB0::0x05E6::0x2461::04412346::INSTR",),
    ),
    Variant(
        "keithley2470",
        "KEITHLEY INSTRUMENTS,MODEL 2470,04412347,1.7.3b",
        Limits(1100.0, 1.05, (1e-9, 1.05), (0.02, 1100.0), ((21.0, 1.05), (210.0, 0.105), (1100.0, 0.0105))),
        Ranges((0.2, 1100.0), (1e-9, 1.05), (0.2, 1100.0), (1e-9, 1.05)),
        ("USB0::0x05E6::0x2470::04412347::INSTR",),
    ),
)
