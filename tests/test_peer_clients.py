"""Other frameworks' drivers run unchanged on the twins: their own traffic, replayed.

Each transcript below is what PyMeasure 0.16 and QCoDeS 0.58 sent, unchanged, to these
twins through the ``@labrun`` backend (recorded 2026-12-02 in a scratch environment,
before they were test dependencies). Replayed through plain pyvisa, every query is
answered and the error queue stays empty, except where the framework sends commands
the model's manual does not list (PyMeasure's Keithley2450 buffer methods are the
2400's: the twin refuses them, as the 2450 does). The six whole sessions of
``peer_sessions.py`` (pinned in ``peer_traces.py``) are replayed message by message,
so a twin that breaks one names it; ``test_peer_drivers.py`` runs the drivers themselves.
"""

from __future__ import annotations

import pytest
import pyvisa

from labrun.sim_devices import default_bench

from . import peer_traces, peer_traces_tsp
from .support import BENCH

PYMEASURE_2400 = [
    ":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS",
    "*IDN?",
    "*RST",
    ":SOURCE:FUNCTION VOLT",
    ":SOURCE:VOLTAGE:RANGE 20",
    ":SENSE:CURRENT:PROTECTION 0.01",
    ":SENS:FUNC 'CURR';:SENS:CURR:NPLC 1.000000;",
    ":SENS:CURR:RANG:AUTO 1;",
    ":SOURCE:VOLTAGE 1",
    "OUTPUT 1",
    ":MEASURE:CURRENT?",
    ":MEASURE:VOLTAGE?",
    ":SYSTEM:RSENSE 1",
    ":SYSTEM:RSENSE?",
    ":SENS:AVER:TCON MOV",
    ":SENSE:AVERAGE:COUNT 10",
    ":SENS:AVER ON",
    ":SENSE:AVERAGE:COUNT?",
    ":SYST:AZER:STAT 1",
    ":SYSTEM:LFREQUENCY?",
    ":SOURCE:DELAY 0.01",
    ":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;",  # config_buffer(points=10)
    ":TRAC:CLEAR;",
    ":TRAC:POIN 10",
    ":ARM:COUNT?",
    ":TRIGGER:COUNT 10",
    ":TRIGGER:DELAY 0",
    ":TRAC:FEED SENSE;:TRAC:FEED:CONT NEXT;",
    ":INIT",  # start_buffer
    "*STB?",  # wait_for_buffer: bits 0 and 6 set when the buffer is full
    ":FORM:DATA ASCII",
    ":TRAC:DATA?",
    ":CALCULATE3:FORMAT MEAN;:CALCULATE3:DATA?;",
    ":CALCULATE3:FORMAT SDEVIATION;:CALCULATE3:DATA?;",
    ":SOURCE:VOLTAGE?",
    ":SOURCE:VOLTAGE 0.5",
    ":SOURCE:VOLTAGE 0",
    ":ABOR",
    "OUTPUT 0",
]
QCODES_2400 = [
    ":TRIG:COUN 1;:FORM:ELEM VOLT,CURR",
    "*IDN?",
    ':SENS:FUNC "CURR"',
    ":SOUR:FUNC VOLT",
    "SENS:CURR:PROT 0.010000",
    "SOUR:VOLT:RANG 2.000000",
    "SOUR:CURR:RANG 0.001000",
    "SENS:CURR:NPLC 1.000000",
    ":SOUR:VOLT:LEV 1.00000000",
    ":OUTP:STAT 1",
    ":READ?",
    ":SENS:FUNC?",
    ":OUTP:STAT 0",
]
QCODES_2450 = [
    "*LANG?",
    "*IDN?",
    ":SENS:FUNC?",
    ":SOUR:FUNC VOLT",
    ':SENS:FUNC "CURR:DC"',
    "SOUR:voltage 1.0",
    "SOUR:voltage:ILIM 0.01",
    ":SENSe:current:NPLCycles 0.1",
    ":SENSe:current:RSENse 0",
    ":SENSe:current:RANGe 0.001",
    ":OUTP 1",
    ":OUTP?",
    ":MEASure? 'defbuffer1'",
    ":SOURce:SWEep:voltage:LINear 0,1,11,0,1,AUTO,ON,OFF,'defbuffer1'",
    ":INITiate",
    "*WAI",
    ":TRACe:DATA? 1, 11, 'defbuffer1'",
    ":TRACe:CLEar 'defbuffer1'",
    ":OUTP 0",
]
PYMEASURE_2450 = [
    "*IDN?",
    "*RST;:stat:pres;:*CLS;",  # as PyMeasure writes it
    ":SOUR:FUNC VOLT",
    ":SOUR:VOLT:RANG:AUTO 0;:SOUR:VOLT:RANG 20",
    ":SOUR:VOLT:ILIM 0.01",
    ":SENS:FUNC 'CURR';:SENS:CURR:NPLC 1.000000;",
    ":SENS:CURR:RANG:AUTO 1;",
    ":SOUR:VOLT:LEV 1",
    "OUTPUT ON",
    ":READ?",
    ":SENS:RES:RSENSE 1",
    ":FORM:DATA ASCII",
    "OUTPUT OFF",
]


def replay(model: str, messages: list[str]) -> dict[str, str]:
    """Send each message as the framework did; every query's answer, by message."""
    rm = pyvisa.ResourceManager("@labrun")
    res = rm.open_resource(BENCH[model], read_termination="\n", write_termination="\n", timeout=500)
    assert isinstance(res, pyvisa.resources.MessageBasedResource)
    answers = {}
    for message in messages:
        if "?" in message:
            answers[message] = res.query(message)  # a missing answer raises here
        else:
            res.write(message)
    answers["errors"] = res.query(":SYST:ERR:ALL?")
    res.close()
    return answers


@pytest.mark.parametrize(
    ("model", "messages"),
    [
        ("keithley2400", PYMEASURE_2400),
        ("keithley2400", QCODES_2400),
        ("keithley2450", QCODES_2450),
        ("keithley2450", PYMEASURE_2450),
    ],
    ids=["pymeasure-2400", "qcodes-2400", "qcodes-2450", "pymeasure-2450"],
)
def test_a_peer_frameworks_traffic_runs_without_an_error(model: str, messages: list[str]) -> None:
    answers = replay(model, messages)
    assert answers["errors"] == '0,"No error"'


def test_pymeasures_2400_buffer_fills_and_reports_its_statistics() -> None:
    answers = replay("keithley2400", PYMEASURE_2400)
    assert int(answers["*STB?"]) & 65 == 65  # what PyMeasure's is_buffer_full() waits for
    values = [float(v) for v in answers[":TRAC:DATA?"].split(",")]
    assert len(values) == 10 * 5  # ten readings of five elements
    currents = values[1::5]
    assert currents == pytest.approx([1e-3] * 10, rel=1e-3)  # 1 V on the 1 kOhm load
    mean = [float(v) for v in answers[":CALCULATE3:FORMAT MEAN;:CALCULATE3:DATA?;"].split(",")]
    assert mean[:2] == pytest.approx([1.0, 1e-3], rel=1e-3)


def test_qcodes_2450_sweep_reads_its_points_from_the_buffer_start() -> None:
    answers = replay("keithley2450", QCODES_2450)
    currents = [float(v) for v in answers[":TRACe:DATA? 1, 11, 'defbuffer1'"].split(",")]
    assert currents == pytest.approx([k * 1e-4 for k in range(11)], abs=1e-6)


def test_pymeasures_2450_buffer_methods_are_the_2400s_and_are_refused_as_on_the_2450() -> None:
    answers = replay(
        "keithley2450",
        [":STAT:PRES;*CLS;*SRE 1;:STAT:MEAS:ENAB 512;", ":TRAC:FEED SENSE;:TRAC:FEED:CONT NEXT;"],
    )
    assert answers["errors"] == '-113,"Undefined header",-113,"Undefined header",-113,"Undefined header"'


PINNED = {
    "pymeasure-2400": ("keithley2400", peer_traces.PYMEASURE_2400),
    "pymeasure-2450": ("keithley2450", peer_traces.PYMEASURE_2450),
    "qcodes-2400": ("keithley2400", peer_traces.QCODES_2400),
    "qcodes-2450": ("keithley2450", peer_traces.QCODES_2450),
    "qcodes-b2901": ("keysight_b2901", peer_traces.QCODES_B2901),
    "qcodes-b2902": ("keysight_b2902", peer_traces.QCODES_B2902),
}


@pytest.mark.parametrize("client", sorted(PINNED))
def test_each_message_of_a_pinned_session_runs_without_an_error(client: str) -> None:
    """Message by message, as the client sent it: each query answered, the error queue
    empty after each message (the failure names the message)."""
    model, messages = PINNED[client]
    address = next(a for a, entry in default_bench().items() if entry["model"] == model)
    rm = pyvisa.ResourceManager("@labrun")
    res = rm.open_resource(address, read_termination="\n", write_termination="\n", timeout=500)
    assert isinstance(res, pyvisa.resources.MessageBasedResource)
    for message in messages:
        if "?" in message:
            try:
                assert res.query(message), message
            except pyvisa.errors.VisaIOError as error:
                raise AssertionError(f"{message!r}: no answer ({error.abbreviation})") from None
        else:
            res.write(message)
        assert res.query(":SYST:ERR:COUN?") == "0", (message, res.query(":SYST:ERR:ALL?"))
    res.close()


def test_each_message_of_the_keithley2600_session_runs_without_an_error() -> None:
    """The TSP session replayed line by line: each print answered, the error queue empty."""
    rm = pyvisa.ResourceManager("@labrun")
    res = rm.open_resource(BENCH["keithley2636b"], read_termination="\n", write_termination="\n", timeout=500)
    assert isinstance(res, pyvisa.resources.MessageBasedResource)
    for message in peer_traces_tsp.KEITHLEY2600:
        if message.startswith("print("):
            try:
                res.query(message)
            except pyvisa.errors.VisaIOError as error:
                raise AssertionError(f"{message!r}: no answer ({error.abbreviation})") from None
        else:
            res.write(message)
        assert float(res.query("print(errorqueue.count)")) == 0, (
            message,
            res.query("print(errorqueue.next())"),
        )
