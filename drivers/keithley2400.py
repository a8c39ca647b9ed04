"""Keithley 2400 SourceMeter (and its SCPI-compatible 24xx siblings).

SCPI from the 2400 Series SourceMeter User's Manual, section 18. Unusual: ``:READ?``
answers the elements chosen by ``:FORMat:ELEMents`` in a fixed order, and takes no
reading while the output is off (error +803 "Output disabled", no answer).
"""

from __future__ import annotations

from .settings import Choice, Number, Switch
from .shared_settings import KEITHLEY_OFF_STATE, LINE_FREQUENCY, OFFSET_COMPENSATION
from .sourcemeter import SourceMeter
from .specs import Limits, Ranges, Scpi, Variant
from .sweeps import SweepScpi, source_list


def _setup_2400(function: str, levels: list[float], delay: float) -> list[str]:
    """LIST mode (manual §10 "List"): at most 100 values a command, the rest appended;
    the trigger count steps through it, the buffer (§9) takes each reading."""
    return [
        f":SOUR:{function}:MODE LIST",
        *source_list(function, levels),
        f":SOUR:DEL {delay:.6g}",
        f":TRIG:COUN {len(levels)}",
        ":TRAC:CLE",
        f":TRAC:POIN {len(levels)}",
        ":TRAC:FEED SENS",
        ":TRAC:FEED:CONT NEXT",
    ]


SWEEP_2400 = SweepScpi(
    setup=_setup_2400,
    start=":INIT",
    count_query=":TRAC:POIN:ACT?",
    data_query=lambda start, stop: ":TRAC:DATA?",  # the 2400 sends its whole buffer
    data_is_whole_buffer=True,
    abort=":ABOR",
    teardown=lambda function: [f":SOUR:{function}:MODE FIX", ":TRAC:FEED:CONT NEV", ":TRIG:COUN 1"],
)


class Keithley2400(SourceMeter):
    model = "keithley2400"
    # the SCPI-compatible siblings; the 2450/2460/2470 (Touch series) speak another SCPI
    identity_pattern = r"MODEL 24(?:00|01|10|20|25|30|40)\b"
    series = "Keithley 2400 series (2400, 2401, 2410, 2420, 2425, 2430, 2440)"
    # datasheet: ±21 V at up to ±1.05 A, ±210 V at up to ±105 mA
    limits = Limits(
        max_voltage=210.0,
        max_current=1.05,
        current_limit_range=(1e-9, 1.05),
        voltage_limit_range=(2e-4, 210.0),
        envelope=((21.0, 1.05), (210.0, 0.105)),
    )
    # 200 mV .. 200 V (to 210 V) and 1 µA .. 1 A (to 1.05 A) ranges, source and measure
    ranges = Ranges((0.2, 210.0), (1e-6, 1.05), (0.2, 210.0), (1e-6, 1.05))
    scpi = Scpi(
        source_voltage=":SOUR:FUNC VOLT",
        source_current=":SOUR:FUNC CURR",
        source_query=":SOUR:FUNC?",
        voltage_level=":SOUR:VOLT:LEV {value:.6E}",
        current_level=":SOUR:CURR:LEV {value:.6E}",
        voltage_level_query=":SOUR:VOLT:LEV?",
        current_level_query=":SOUR:CURR:LEV?",
        current_limit=":SENS:CURR:PROT {value:.6E}",
        voltage_limit=":SENS:VOLT:PROT {value:.6E}",
        current_limit_query=":SENS:CURR:PROT?",
        voltage_limit_query=":SENS:VOLT:PROT?",
        configure=(":FORM:ELEM VOLT,CURR",),
        elements_query=":FORM:ELEM?",
        resistance_on=(':SENS:FUNC:CONC ON;:SENS:FUNC:ON "VOLT","CURR","RES"', ":FORM:ELEM VOLT,CURR,RES"),
        resistance_off=(':SENS:FUNC:OFF "RES"', ":FORM:ELEM VOLT,CURR"),
        reading_query=":READ?",
    )
    # voltage and current of each reading, in this order (manual: :FORMat:ELEMents)
    needs_output_for_reading = True
    sweep_scpi = SWEEP_2400

    nplc = Number(
        ":SENS:CURR:NPLC {value};:SENS:VOLT:NPLC {value}",
        ":SENS:CURR:NPLC?",
        low=0.01,
        high=10.0,
        unit="PLC",
        doc="Integration time of each reading, in power-line cycles (manual §18, [:SENSe]:...:NPLCycles).",
    )
    remote_sense = Switch(
        ":SYST:RSEN {value}",
        ":SYST:RSEN?",
        doc="4-wire (remote) sense: the voltage is measured at the device, not at the terminals.",
    )
    autozero = Switch(":SYST:AZER {value}", ":SYST:AZER?", doc="Reference and zero taken with each reading.")
    line_frequency = LINE_FREQUENCY
    offset_compensation = OFFSET_COMPENSATION
    output_off_state = KEITHLEY_OFF_STATE
    averaging = Switch(":SENS:AVER {value}", ":SENS:AVER?", doc="The averaging filter on or off.")
    averaging_type = Choice(
        ":SENS:AVER:TCON {value}",
        ":SENS:AVER:TCON?",
        words={"repeat": "REP", "moving": "MOV"},
        doc="Repeating (a fresh set per reading) or moving average.",
    )
    averaging_count = Number(
        ":SENS:AVER:COUN {value}",
        ":SENS:AVER:COUN?",
        low=1,
        high=100,
        unit="readings",
        doc="Readings averaged.",
    )
    source_delay = Number(
        ":SOUR:DEL {value}",
        ":SOUR:DEL?",
        low=0.0,
        high=9999.999,
        unit="s",
        doc="Settling time after each source step, before the reading ([:SOURce]:DELay).",
    )
    source_delay_auto = Switch(
        ":SOUR:DEL:AUTO {value}", ":SOUR:DEL:AUTO?", doc="The delay from the range's table."
    )


def _idn(model: str, serial: str) -> str:
    return f"KEITHLEY INSTRUMENTS INC.,MODEL {model},{serial},C33   Mar 31 2015 09:32:39/A02  /S/K"


#: the SCPI-compatible siblings: the 2400's driver and twin, each with its datasheet's data.
#: Envelopes from the 2400 Series User's Manual §6 "Operating boundaries" (the maxima are the
#: nominal values +5 %: 2420 3.15 A to 21 V, 1.05 A to 63 V; 2425/2430 DC 3.15 A to 21 V,
#: 1.05 A to 105 V) and its §18 range notes (2401: 20 V range; 2410: 1 kV range, 20 mA on
#: it). From memory: the 2410's 21 mA to 1100 V, the 2440's 5.25 A to 10.5 V and 1.05 A to
#: 42 V, and the lowest current range of 10 µA on the 2420/2425/2430/2440. The 2430's
#: pulse mode (10.5 A) is not modelled: its DC limits are the 2425's.
KEITHLEY_2400_VARIANTS = (
    Variant(
        "keithley2401",
        _idn("2401", "4123001"),
        Limits(21.0, 1.05, (1e-9, 1.05), (2e-4, 21.0), ((21.0, 1.05),)),
        Ranges((0.2, 21.0), (1e-6, 1.05), (0.2, 21.0), (1e-6, 1.05)),
        ("GPIB0::25::INSTR",),
    ),
    Variant(
        "keithley2410",
        _idn("2410", "4123002"),
        Limits(1100.0, 1.05, (1e-9, 1.05), (2e-4, 1100.0), ((21.0, 1.05), (1100.0, 0.021))),
        Ranges((0.2, 1100.0), (1e-6, 1.05), (0.2, 1100.0), (1e-6, 1.05)),
        ("GPIB0::10::INSTR",),
    ),
    Variant(
        "keithley2420",
        _idn("2420", "4123003"),
        Limits(63.0, 3.15, (1e-9, 3.15), (2e-4, 63.0), ((21.0, 3.15), (63.0, 1.05))),
        Ranges((0.2, 63.0), (1e-5, 3.15), (0.2, 63.0), (1e-5, 3.15)),
        ("GPIB0::11::INSTR",),
    ),
    Variant(
        "keithley2425",
        _idn("2425", "4123004"),
        Limits(105.0, 3.15, (1e-9, 3.15), (2e-4, 105.0), ((21.0, 3.15), (105.0, 1.05))),
        Ranges((0.2, 105.0), (1e-5, 3.15), (0.2, 105.0), (1e-5, 3.15)),
        ("GPIB0::12::INSTR",),
    ),
    Variant(
        "keithley2430",
        _idn("2430", "4123005"),
        Limits(105.0, 3.15, (1e-9, 3.15), (2e-4, 105.0), ((21.0, 3.15), (105.0, 1.05))),
        Ranges((0.2, 105.0), (1e-5, 3.15), (0.2, 105.0), (1e-5, 3.15)),
        ("GPIB0::13::INSTR",),
    ),
    Variant(
        "keithley2440",
        _idn("2440", "4123006"),
        Limits(42.0, 5.25, (1e-9, 5.25), (2e-4, 42.0), ((10.5, 5.25), (42.0, 1.05))),
        Ranges((0.2, 42.0), (1e-5, 5.25), (0.2, 42.0), (1e-5, 5.25)),
        ("GPIB0::14::INSTR",),
    ),
)
