"""The twins understand SCPI as the instruments do: programs from the manuals run unchanged.

Each sequence below follows a programming example or reference entry of the model's
manual (cited per test) and talks to the twin through plain pyvisa and the ``@labrun``
backend, exactly as a lab script written for the instrument would; the default bench
has a 1 kOhm resistor behind every output.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
import pyvisa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labrun.sim_devices import twin_of

K2400, K2450, B2901 = "GPIB0::24::INSTR", "GPIB0::18::INSTR", "GPIB0::23::INSTR"


@pytest.fixture
def rm() -> Iterator[pyvisa.ResourceManager]:
    yield pyvisa.ResourceManager("@labrun")


def instrument(rm: pyvisa.ResourceManager, address: str) -> pyvisa.resources.MessageBasedResource:
    res = rm.open_resource(address, read_termination="\n", write_termination="\n", timeout=200)
    assert isinstance(res, pyvisa.resources.MessageBasedResource)
    return res


def send(res: pyvisa.resources.MessageBasedResource, program: str) -> None:
    """Each line of ``program`` as one write, as the manual lists them."""
    for line in program.strip().splitlines():
        res.write(line.strip())


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def errors(res: pyvisa.resources.MessageBasedResource) -> list[str]:
    found = []
    while not (e := res.query(":SYST:ERR?")).startswith(("0,", "+0,")):
        found.append(e)
    return found


# ------------------------------------------------------------- Keithley 2400
# "2400 Series SourceMeter User's Manual" (2400S-900-01), Keithley Instruments.


def test_2400_identify(rm: pyvisa.ResourceManager) -> None:
    """§18 / IEEE-488.2 common commands: *IDN? names maker and model."""
    assert instrument(rm, K2400).query("*IDN?").startswith("KEITHLEY INSTRUMENTS INC.,MODEL 2400,")


def test_2400_basic_source_voltage_measure_current(rm: pyvisa.ResourceManager) -> None:
    """§3 "Basic source-measure procedure", remote programming example (source V, measure I)."""
    k = instrument(rm, K2400)
    send(
        k,
        """
        *RST
        :SOUR:FUNC VOLT
        :SOUR:VOLT:MODE FIXED
        :SOUR:VOLT:RANG 20
        :SOUR:VOLT:LEV 10
        :SENS:CURR:PROT 10E-3
        :SENS:FUNC "CURR"
        :SENS:CURR:RANG 10E-3
        :FORM:ELEM CURR
        :OUTP ON
        """,
    )
    assert floats(k.query(":READ?")) == pytest.approx([10e-3], rel=1e-3)  # 10 V / 1 kOhm
    k.write(":OUTP OFF")
    assert errors(k) == []


def test_2400_source_current_measure_voltage(rm: pyvisa.ResourceManager) -> None:
    """§3 remote example, source current / measure voltage."""
    k = instrument(rm, K2400)
    send(
        k,
        """
        *RST
        :SOUR:FUNC CURR
        :SOUR:CURR:MODE FIXED
        :SENS:FUNC "VOLT"
        :SOUR:CURR:RANG MIN
        :SOUR:CURR:LEV 1E-3
        :SENS:VOLT:PROT 10
        :SENS:VOLT:RANG 10
        :FORM:ELEM VOLT
        :OUTP ON
        """,
    )
    assert floats(k.query(":READ?")) == pytest.approx([1.0], rel=1e-3)
    assert errors(k) == []


def test_2400_staircase_sweep(rm: pyvisa.ResourceManager) -> None:
    """§10 "Sweep Operation", staircase sweep example: 1 mA to 10 mA, 1 V compliance.

    On 1 kOhm every step above 1 mA hits the 1 V compliance: the 2400 then holds
    1 V and the current the load draws at 1 V.
    """
    k = instrument(rm, K2400)
    send(
        k,
        """
        *RST
        :SENS:FUNC:CONC OFF
        :SOUR:FUNC CURR
        :SENS:FUNC 'VOLT:DC'
        :SENS:VOLT:PROT 1
        :SOUR:CURR:START 1E-3
        :SOUR:CURR:STOP 10E-3
        :SOUR:CURR:STEP 1E-3
        :SOUR:CURR:MODE SWE
        :SOUR:SWE:RANG AUTO
        :SOUR:SWE:SPAC LIN
        :TRIG:COUN 10
        :SOUR:DEL 0.1
        :OUTP ON
        """,
    )
    values = floats(k.query(":READ?"))
    assert len(values) == 10 * 5  # default elements VOLT,CURR,RES,TIME,STAT per point
    volts, amps = values[0::5], values[1::5]
    assert volts == pytest.approx([1.0] * 10, rel=1e-3)
    assert amps == pytest.approx([1e-3] * 10, rel=1e-3)
    assert k.query(":SOUR:SWE:POIN?") == "+1.000000E+01"
    assert k.query(":SENS:VOLT:PROT:TRIP?") == "1"


def test_2400_voltage_sweep_with_path_rules(rm: pyvisa.ResourceManager) -> None:
    """§10 sweep commands written with 488.2 path rules (§17 "Program message terminator/path")."""
    k = instrument(rm, K2400)
    k.write("*RST;:FORM:ELEM VOLT,CURR;:SENS:CURR:PROT 0.01")
    k.write(":SOUR:VOLT:STAR 0;STOP 1;STEP 0.25;MODE SWE;:TRIG:COUN 5;:OUTP ON")
    values = floats(k.query(":READ?"))
    assert values[1::2] == pytest.approx([0.0, 0.25e-3, 0.5e-3, 0.75e-3, 1e-3], abs=1e-8, rel=1e-3)
    assert errors(k) == []


def test_2400_compliance_limits_the_current(rm: pyvisa.ResourceManager) -> None:
    """§5 "Source-Delay-Measure cycle / compliance": the current stops at the limit."""
    k = instrument(rm, K2400)
    send(k, "*RST\n:FORM:ELEM VOLT,CURR\n:SENS:CURR:PROT 1E-3\n:SOUR:VOLT 5\n:OUTP ON")
    volts, amps = floats(k.query(":READ?"))
    assert amps == pytest.approx(1e-3, rel=1e-3)
    assert volts == pytest.approx(1.0, rel=1e-3)
    assert k.query(":SENS:CURR:PROT:TRIP?") == "1"


def test_2400_error_queue_oldest_first(rm: pyvisa.ResourceManager) -> None:
    """Appendix B "Status and Error Messages": -113, -222, -104 queue up; bad values change nothing."""
    k = instrument(rm, K2400)
    send(k, "*RST\n:SOUR:VOLT 2\n:SOUR:FROB 1\n:SOUR:VOLT 300\n:SOUR:VOLT abc")
    assert k.query(":SYST:ERR:COUN?") == "3"
    assert k.query(":SYST:ERR?") == '-113,"Undefined header"'
    assert k.query(":SYST:ERR:NEXT?") == '-222,"Data out of range"'
    assert k.query(":SYST:ERR?") == '-104,"Data type error"'
    assert k.query(":SYST:ERR?") == '0,"No error"'
    assert float(k.query(":SOUR:VOLT?")) == 2.0


def test_2400_reset_defaults(rm: pyvisa.ResourceManager) -> None:
    """§18 *RST / Appendix "default settings": V source, 105 µA limit, output off, all elements."""
    k = instrument(rm, K2400)
    send(k, ":SOUR:FUNC CURR\n:OUTP ON\n:FORM:ELEM VOLT\n*RST")
    assert k.query(":SOUR:FUNC?") == "VOLT"
    assert float(k.query(":SENS:CURR:PROT?")) == pytest.approx(1.05e-4)
    assert k.query(":OUTP?") == "0"
    assert k.query(":FORM:ELEM?") == "VOLT,CURR,RES,TIME,STAT"


def test_2400_measure_query_turns_the_output_on(rm: pyvisa.ResourceManager) -> None:
    """§18 ":MEASure[:<function>]?": CONFigure + READ?, output turned on."""
    k = instrument(rm, K2400)
    send(k, "*RST\n:FORM:ELEM CURR\n:SENS:CURR:PROT 0.01\n:SOUR:VOLT 3")
    assert floats(k.query(":MEAS:CURR?")) == pytest.approx([3e-3], rel=1e-3)
    assert k.query(":OUTP?") == "1"


def test_2400_elements_come_in_fixed_order(rm: pyvisa.ResourceManager) -> None:
    """§18 ":FORMat:ELEMents": the order listed does not change the order returned."""
    k = instrument(rm, K2400)
    send(k, "*RST\n:SENS:CURR:PROT 0.01\n:SOUR:VOLT 2\n:OUTP ON\n:FORM:ELEM CURR,VOLT")
    volts, amps = floats(k.query(":READ?"))
    assert (volts, amps) == (pytest.approx(2.0, rel=1e-3), pytest.approx(2e-3, rel=1e-3))


def test_2400_read_with_output_off_answers_nothing(rm: pyvisa.ResourceManager) -> None:
    """Appendix B "+803 Output disabled": no reading, so the query times out, as on the bench."""
    k = instrument(rm, K2400)
    k.write("*RST")
    with pytest.raises(pyvisa.errors.VisaIOError):
        k.query(":READ?")
    assert k.query(":SYST:ERR?") == '803,"Output disabled"'


def test_2400_clear_status_empties_the_queue(rm: pyvisa.ResourceManager) -> None:
    """§18 *CLS clears the error queue."""
    k = instrument(rm, K2400)
    send(k, ":NOPE\n:NOPE\n*CLS")
    assert k.query(":SYST:ERR:COUN?") == "0"


def test_2400_configure_resistance_then_read(rm: pyvisa.ResourceManager) -> None:
    """§17 ":CONFigure:<function>": that function alone, output on; manual ohms is V / I
    (§18 ":RESistance:MODE"); :CONFigure? names the function."""
    k = instrument(rm, K2400)
    send(k, "*RST\n:SENS:CURR:PROT 0.01\n:SOUR:VOLT 2\n:SYST:RSEN ON\n:CONF:RES")
    assert k.query(":CONF?") == '"RES"' and k.query(":OUTP?") == "1"
    volts, amps, ohms, _, _ = floats(k.query(":READ?"))
    assert (volts, amps, ohms) == (
        pytest.approx(2.0, rel=1e-3),
        pytest.approx(2e-3, rel=1e-3),
        pytest.approx(1e3, rel=1e-3),
    )
    k.write(":CONF:CURR")
    assert floats(k.query(":READ?"))[2] == 9.91e37  # resistance is off again: not measured
    assert errors(k) == []


def test_2400_measure_configures_one_shot(rm: pyvisa.ResourceManager) -> None:
    """§17 ":MEASure:RESistance?": :CONFigure (trigger count one, buffer off) + :READ?."""
    k = instrument(rm, K2400)
    send(k, "*RST\n:SENS:CURR:PROT 0.01\n:SOUR:VOLT 1\n:TRIG:COUN 5\n:TRAC:FEED:CONT NEXT")
    assert len(floats(k.query(":MEAS:RES?"))) == 5  # one reading of five elements
    assert k.query(":TRIG:COUN?") == "+1.000000E+00" and k.query(":TRAC:FEED:CONT?") == "NEV"
    assert errors(k) == []


def test_2400_all_functions_and_one_integration_time(rm: pyvisa.ResourceManager) -> None:
    """§18 ":SENSe:FUNCtion:ALL" / ":OFF:ALL"; ":NPLCycles" is one setting for every function."""
    k = instrument(rm, K2400)
    send(k, "*RST\n:SENS:FUNC:ALL\n:SENS:RES:NPLC 5")
    assert k.query(":SENS:FUNC?") == '"VOLT:DC","CURR:DC","RES"'
    assert float(k.query(":SENS:CURR:NPLC?")) == float(k.query(":SENS:VOLT:NPLC?")) == 5.0
    k.write(":SENS:FUNC:OFF:ALL")
    assert k.query(":SENS:FUNC?") == ""
    assert errors(k) == []


# ------------------------------------------------------------- Keithley 2450
# "Model 2450 Interactive SourceMeter Instrument Reference Manual" (2450-901-01), SCPI.


def test_2450_identify(rm: pyvisa.ResourceManager) -> None:
    """§6 "*IDN?"."""
    assert "MODEL 2450" in instrument(rm, K2450).query("*IDN?")


def test_2450_source_current_measure_voltage(rm: pyvisa.ResourceManager) -> None:
    """§3 "Making a 4-wire ... measurement" SCPI example: source 10 mA, 10 V limit, read V."""
    k = instrument(rm, K2450)
    send(
        k,
        """
        *RST
        :SOUR:FUNC CURR
        :SOUR:CURR 5e-3
        :SOUR:CURR:VLIM 10
        :SENS:FUNC "VOLT"
        :SENS:VOLT:RANG 20
        :SENS:VOLT:RSEN ON
        :OUTP ON
        """,
    )
    source, volts = floats(k.query(':READ? "defbuffer1", SOUR, READ'))
    assert source == pytest.approx(5e-3, rel=1e-3)
    assert volts == pytest.approx(5.0, rel=1e-3)
    k.write(":OUTP OFF")
    assert errors(k) == []


def test_2450_source_voltage_measure_current(rm: pyvisa.ResourceManager) -> None:
    """§6 ":MEASure:<function>?": source 2 V, 10 mA limit, read the current."""
    k = instrument(rm, K2450)
    send(k, '*RST\n:SOUR:FUNC VOLT\n:SOUR:VOLT 2\n:SOUR:VOLT:ILIM 0.01\n:SENS:FUNC "CURR"\n:OUTP ON')
    assert float(k.query(":MEAS:CURR?")) == pytest.approx(2e-3, rel=1e-3)


def test_2450_count_fills_the_reading_buffer(rm: pyvisa.ResourceManager) -> None:
    """§6 "[:SENSe[1]]:COUNt", ":TRACe:ACTual?", ":TRACe:DATA?": five readings in defbuffer1."""
    k = instrument(rm, K2450)
    send(k, "*RST\n:SOUR:VOLT 1\n:SOUR:VOLT:ILIM 0.01\n:OUTP ON\n:COUN 5")
    k.query(':READ? "defbuffer1"')
    assert k.query(':TRAC:ACT? "defbuffer1"') == "5"
    values = floats(k.query(':TRAC:DATA? 1, 5, "defbuffer1", SOUR, READ'))
    assert values[0::2] == pytest.approx([1.0] * 5, rel=1e-3)
    assert values[1::2] == pytest.approx([1e-3] * 5, rel=1e-3)


def test_2450_clear_the_buffer(rm: pyvisa.ResourceManager) -> None:
    """§6 ":TRACe:CLEar"."""
    k = instrument(rm, K2450)
    send(k, "*RST\n:OUTP ON")
    k.query(":READ?")
    k.write(':TRAC:CLE "defbuffer1"')
    assert k.query(":TRAC:ACT?") == "0"


def test_2450_current_limit(rm: pyvisa.ResourceManager) -> None:
    """§4 "Source and measure limits": ILIM holds the current; TRIPped reports it."""
    k = instrument(rm, K2450)
    send(k, "*RST\n:SOUR:VOLT:ILIM 1e-3\n:SOUR:VOLT 5\n:OUTP ON")
    _, amps = floats(k.query(':READ? "defbuffer1", SOUR, READ'))
    assert amps == pytest.approx(1e-3, rel=1e-3)
    assert k.query(":SOUR:VOLT:ILIM:TRIP?") == "1"


def test_2450_errors_oldest_first(rm: pyvisa.ResourceManager) -> None:
    """§8 "Error and event messages": undefined header, data out of range."""
    k = instrument(rm, K2450)
    send(k, "*RST\n:SOUR:BOGUS 1\n:SOUR:VOLT:ILIM 2")
    assert errors(k) == ['-113,"Undefined header"', '-222,"Data out of range"']
    assert float(k.query(":SOUR:VOLT:ILIM?")) == pytest.approx(1.05e-4)


def test_2450_reset_defaults(rm: pyvisa.ResourceManager) -> None:
    """§6 "*RST": voltage source, 105 µA limit, output off."""
    k = instrument(rm, K2450)
    send(k, ":SOUR:FUNC CURR\n:OUTP ON\n*RST")
    assert k.query(":SOUR:FUNC?") == "VOLT"
    assert float(k.query(":SOUR:VOLT:ILIM?")) == pytest.approx(1.05e-4)
    assert k.query(":OUTP?") == "0"


def test_2450_reads_with_the_output_off(rm: pyvisa.ResourceManager) -> None:
    """§4 "Output-off state": the 2450 still measures; no current flows."""
    k = instrument(rm, K2450)
    k.write("*RST;:SOUR:VOLT 5")
    assert abs(float(k.query(":MEAS:CURR?"))) < 1e-9


def test_2450_error_count_and_clear(rm: pyvisa.ResourceManager) -> None:
    """§6 ":SYSTem:ERRor:COUNt?", "*CLS"."""
    k = instrument(rm, K2450)
    send(k, ":NOPE\n:NOPE 2")
    assert k.query(":SYST:ERR:COUN?") == "2"
    k.write("*CLS")
    assert k.query(":SYST:ERR:COUN?") == "0"


def test_2450_resistance_reading_and_buffer_statistics(rm: pyvisa.ResourceManager) -> None:
    """§6 ":MEASure:RESistance?", ":FETCh?", ":TRACe:STATistics:<statistic>?": a
    resistance reading is V / I; the statistics are of the buffer's readings."""
    k = instrument(rm, K2450)
    send(k, "*RST\n:SOUR:VOLT 1\n:SOUR:VOLT:ILIM 0.01\n:OUTP ON\n:SENS:COUN 4")
    assert float(k.query(':MEAS:RES? "defbuffer1"')) == pytest.approx(1e3, rel=1e-3)
    assert k.query(":SENS:FUNC?") == '"RES"'  # the function stays selected
    reading, source = floats(k.query(':FETC? "defbuffer1", READ, SOURce'))
    assert (reading, source) == (pytest.approx(1e3, rel=1e-3), pytest.approx(1.0, rel=1e-3))
    assert float(k.query(":TRAC:STAT:AVER?")) == pytest.approx(1e3, rel=1e-3)
    assert 0 < float(k.query(":TRAC:STAT:PK2P?")) < 5.0
    assert errors(k) == []


def test_2450_buffer_size(rm: pyvisa.ResourceManager) -> None:
    """§6 ":TRACe:POINts <n>, "<buffer>"": the buffer keeps its last n readings."""
    k = instrument(rm, K2450)
    send(k, '*RST\n:SOUR:VOLT 1\n:SOUR:VOLT:ILIM 0.01\n:OUTP ON\n:TRAC:POIN 10, "defbuffer1"\n:SENS:COUN 25')
    assert float(k.query(":READ?")) == pytest.approx(1e-3, rel=1e-3)
    assert k.query(':TRAC:POIN? "defbuffer1"') == "10"
    assert k.query(":TRAC:ACT?") == "10"
    k.write(":TRAC:POIN 5")
    assert k.query(":SYST:ERR?") == '-222,"Data out of range"'  # 10 at least
    k.write(":TRAC:DATA? 1, 1, 'defbuffer1', FRACtional")  # an element the twin does not keep
    assert k.query(":SYST:ERR?") == '-224,"Illegal parameter value"'


# ---------------------------------------------------------- Keysight B2901A
# "Keysight B2900 Series Precision Source/Measure Unit SCPI Command Reference" and
# "Programming Guide" (B2910-90030).


def test_b2901_identify(rm: pyvisa.ResourceManager) -> None:
    """Command reference "*IDN?"."""
    assert ",B2901A," in instrument(rm, B2901).query("*IDN?")


def test_b2901_spot_measurement(rm: pyvisa.ResourceManager) -> None:
    """Programming Guide "Spot measurement" example: source 1 V, 100 mA limit, measure I."""
    b = instrument(rm, B2901)
    send(
        b,
        """
        *RST
        :SOUR:FUNC:MODE VOLT
        :SOUR:VOLT 1
        :SENS:FUNC "CURR"
        :SENS:CURR:PROT 0.1
        :OUTP ON
        """,
    )
    assert float(b.query(":MEAS:CURR? (@1)")) == pytest.approx(1e-3, rel=1e-3)
    assert errors(b) == []


def test_b2901_staircase_sweep(rm: pyvisa.ResourceManager) -> None:
    """Programming Guide "Staircase sweep measurement": 0 to 1 V in 11 points, AINT trigger."""
    b = instrument(rm, B2901)
    send(
        b,
        """
        *RST
        :SOUR:FUNC:MODE VOLT
        :SOUR:VOLT:MODE SWE
        :SOUR:VOLT:STAR 0
        :SOUR:VOLT:STOP 1
        :SOUR:VOLT:POIN 11
        :SENS:CURR:PROT 0.1
        :TRIG:SOUR AINT
        :TRIG:COUN 11
        :OUTP ON
        :INIT (@1)
        """,
    )
    currents = floats(b.query(":FETC:ARR:CURR? (@1)"))
    assert currents == pytest.approx([i * 1e-4 for i in range(11)], rel=1e-3, abs=1e-8)
    assert len(floats(b.query(":FETC:ARR:VOLT? (@1)"))) == 11


def test_b2901_source_current(rm: pyvisa.ResourceManager) -> None:
    """Command reference ":SOURce:FUNCtion:MODE CURRent", ":SENSe:VOLTage:PROTection"."""
    b = instrument(rm, B2901)
    send(b, "*RST\n:SOUR:FUNC:MODE CURR\n:SOUR:CURR 1e-3\n:SENS:VOLT:PROT 5\n:OUTP ON")
    assert float(b.query(":MEAS:VOLT? (@1)")) == pytest.approx(1.0, rel=1e-3)


def test_b2901_compliance(rm: pyvisa.ResourceManager) -> None:
    """Command reference ":SENSe:CURRent:PROTection": the current stops at 100 µA."""
    b = instrument(rm, B2901)
    send(b, "*RST\n:SENS:CURR:PROT 1e-4\n:SOUR:VOLT 1\n:OUTP ON")
    assert float(b.query(":MEAS:CURR? (@1)")) == pytest.approx(1e-4, rel=1e-3)


def test_b2901_sense_elements(rm: pyvisa.ResourceManager) -> None:
    """Command reference ":FORMat:ELEMents:SENSe" and ":MEASure?"."""
    b = instrument(rm, B2901)
    send(b, "*RST\n:SENS:CURR:PROT 0.01\n:SOUR:VOLT 2\n:FORM:ELEM:SENS VOLT,CURR")
    assert floats(b.query(":MEAS? (@1)")) == pytest.approx([2.0, 2e-3], rel=1e-3)


def test_b2901_automatic_output_on(rm: pyvisa.ResourceManager) -> None:
    """Command reference ":OUTPut:ON:AUTO" (default ON): a measurement turns the output on."""
    b = instrument(rm, B2901)
    b.write("*RST")
    assert b.query(":OUTP?") == "0"
    b.query(":MEAS:CURR? (@1)")
    assert b.query(":OUTP?") == "1"


def test_b2901_channel_2_does_not_exist(rm: pyvisa.ResourceManager) -> None:
    """A B2901A has one channel: a suffix 2 is "-114 Header suffix out of range"."""
    b = instrument(rm, B2901)
    send(b, "*RST\n:SOUR2:VOLT 1\n:SOUR:VOLT:FOO 1")
    assert errors(b) == ['-114,"Header suffix out of range"', '-113,"Undefined header"']


def test_b2901_reset_defaults(rm: pyvisa.ResourceManager) -> None:
    """Command reference "*RST": voltage source, output off."""
    b = instrument(rm, B2901)
    send(b, ":SOUR:FUNC:MODE CURR\n:OUTP ON\n*RST")
    assert b.query(":SOUR:FUNC:MODE?") == "VOLT"
    assert b.query(":OUTP?") == "0"


def test_b2901_error_count_and_clear(rm: pyvisa.ResourceManager) -> None:
    """Command reference ":SYSTem:ERRor:COUNt?", "*CLS"."""
    b = instrument(rm, B2901)
    send(b, ":NOPE\n:SOUR:VOLT 999")
    assert b.query(":SYST:ERR:COUN?") == "2"
    b.write("*CLS")
    assert b.query(":SYST:ERR:COUN?") == "0"


def test_b2901_a_function_not_enabled_is_not_measured(rm: pyvisa.ResourceManager) -> None:
    """Command reference ":MEASure:<CURRent|RESistance|VOLTage>?": +9.91E+37 when the
    function is not enabled; ":SENSe:FUNCtion[:ON]" enables, ":FUNCtion:OFF" disables."""
    b = instrument(rm, B2901)
    send(b, "*RST\n:SENS:CURR:PROT 0.01\n:SOUR:VOLT 1\n:OUTP ON")
    assert float(b.query(":MEAS:RES? (@1)")) == 9.91e37
    b.write(':SENS:FUNC:ON "RES"')
    assert b.query(":SENS:FUNC?") == '"VOLT","CURR","RES"'  # the others stay on
    assert float(b.query(":MEAS:RES? (@1)")) == pytest.approx(1e3, rel=1e-3)
    b.write(':SENS:FUNC:OFF "CURR"')
    assert float(b.query(":MEAS:CURR? (@1)")) == 9.91e37
    assert float(b.query(":MEAS:VOLT? (@1)")) == pytest.approx(1.0, rel=1e-3)
    assert errors(b) == []


# ------------------------------------------------------------------ spellings

SPELLINGS = [
    ":SOUR:VOLT 1.5",
    ":SOURce:VOLTage:LEVel:IMMediate:AMPLitude 1.5",
    ":source:voltage:level 1.5",
    "SOUR1:VOLT:LEV:IMM 1.5",
    ":sOuRcE:vOlT 15e-1",
    "  :SOUR:VOLT   1.5  ",
    ":SOUR:FUNC VOLT;VOLT 1.5",
    ":SOUR:FUNC VOLT;:SOUR:VOLT 1.5;",
    "*CLS;:SOUR:VOLT +1.50E+00",
]


@pytest.mark.parametrize("message", SPELLINGS)
def test_spellings_reach_the_same_state(rm: pyvisa.ResourceManager, message: str) -> None:
    k = instrument(rm, K2400)
    k.write(message)
    assert float(k.query(":SOUR:VOLT?")) == 1.5
    assert errors(k) == []


@pytest.mark.parametrize(
    ("setting", "query", "expected"),
    [
        (":SOUR:VOLT MAX", ":SOUR:VOLT?", "+2.100000E+02"),
        (":SOUR:VOLT MINimum", ":SOUR:VOLT?", "-2.100000E+02"),
        (":SOUR:VOLT 3;:SOUR:VOLT DEF", ":SOUR:VOLT?", "+0.000000E+00"),
        (":OUTP ON", ":OUTP?", "1"),
        (":OUTP 0", ":OUTP?", "0"),
        (":SYST:BEEP:STAT OFF", ":SYST:BEEP:STAT?", "0"),
        (":SENS:FUNC 'VOLT', 'CURR'", ":SENS:FUNC?", '"VOLT","CURR"'),
        (":source:function current", ":SOUR:FUNC?", "CURR"),
    ],
)
def test_parameter_forms(rm: pyvisa.ResourceManager, setting: str, query: str, expected: str) -> None:
    k = instrument(rm, K2400)
    k.write(setting)
    assert k.query(query) == expected
    assert errors(k) == []


def test_several_queries_in_one_message_answer_in_one_response(rm: pyvisa.ResourceManager) -> None:
    k = instrument(rm, K2400)
    assert k.query(":SOUR:VOLT 2;:SOUR:VOLT?;:OUTP?;*OPC?") == "+2.000000E+00;0;1"


def test_a_new_message_discards_an_unread_answer(rm: pyvisa.ResourceManager) -> None:
    """IEEE 488.2 §6.3.2.3: an unread response is discarded, -410 Query INTERRUPTED."""
    k = instrument(rm, K2400)
    k.write("*IDN?")
    assert k.query(":OUTP?") == "0"
    assert errors(k) == ['-410,"Query INTERRUPTED"']


# ---------------------------------------------------------------------- fuzz

HEADERS = [
    *("SOUR", "VOLT", "CURR", "SENS", "PROT", "OUTP", "FORM", "ELEM", "READ", "MEAS", "SYST", "ERR"),
    *("TRAC", "DATA", "ACT", "COUN", "INIT", "FETC", "ARR", "SWE", "POIN", "STAR", "STOP", "STEP", "TRIG"),
]
WORDS = [":", ";", " ", ",", "?", "*", "'", '"', "(@1)", "(@2)", "(@", "MAX", "MIN", "DEF", "1e999", "-", "#"]
scpi_like = st.lists(
    st.one_of(
        st.sampled_from([*HEADERS, *WORDS, "1", "0", "5", "ON", '"defbuffer1"', "\x00"]),
        st.text(alphabet=st.characters(codec="latin-1"), max_size=6),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.one_of(scpi_like, st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_no_input_crashes_a_twin_or_leaves_it_answering_out_of_turn(
    rm: pyvisa.ResourceManager, message: str
) -> None:
    raw = message.replace("\n", " ").encode("latin-1")
    for address in (K2400, K2450, B2901):
        k = instrument(rm, address)
        twin = twin_of(k)
        twin.write(raw + b"\n")  # straight into the twin: no exception may escape
        twin._output_buffers.clear()  # drop an answer the random message may have asked for
        twin.errors.clear()
        # the twin is still in step: the next query gets its own answer, first
        assert k.query("*IDN?") == twin.query_identify(None)  # type: ignore[arg-type]
        assert k.query(":SYST:ERR?").endswith(',"No error"')


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz:", min_size=1, max_size=20)
)
def test_unknown_headers_always_land_in_the_error_queue(rm: pyvisa.ResourceManager, header: str) -> None:
    k = instrument(rm, K2400)
    k.write(f":XQ{header} 1")  # no mnemonic of any model starts with XQ
    code = int(k.query(":SYST:ERR?").split(",")[0])
    well_formed = all(header.split(":")) and not header.endswith(":")
    assert code == -113 if well_formed else -199 <= code <= -100


def test_any_pyvisa_program_lists_and_opens_the_default_bench(rm: pyvisa.ResourceManager) -> None:
    names = rm.list_resources()
    assert {K2400, K2450, B2901} <= set(names)
    a, b = instrument(rm, K2400), instrument(rm, K2400)
    a.write(":SOUR:VOLT 1")
    assert float(b.query(":SOUR:VOLT?")) == 0.0  # each opened twin keeps its own state


def test_a_bench_file_chooses_models_addresses_and_loads(tmp_path: pathlib.Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text(
        "instruments:\n"
        "  - {address: 'GPIB0::7::INSTR', model: keithley2400,\n"
        "     load: {type: resistor, resistance: 100}, noise: 0}\n"
        "  - {address: 'TCPIP0::10.0.0.9::inst0::INSTR', model: keysight_b2901, load: {type: open}}\n",
        encoding="utf-8",
    )
    rm = pyvisa.ResourceManager(f"{bench}@labrun")
    assert len(rm.list_resources()) == 2
    k = instrument(rm, "GPIB0::7::INSTR")
    assert k.query(":SOUR:VOLT 1;:SENS:CURR:PROT 0.1;:OUTP ON;:FORM:ELEM CURR;:READ?") == "+1.000000E-02"


@pytest.mark.parametrize(("address", "size"), [(K2400, 10), (K2450, 10), (B2901, 30)])
def test_the_error_queue_holds_what_the_model_file_says_then_reports_overflow(
    rm: pyvisa.ResourceManager, address: str, size: int
) -> None:
    """SCPI-99 §21.8: a full queue keeps its entries and replaces the last with -350."""
    k = instrument(rm, address)
    for _ in range(size + 5):
        k.write(":NOPE")
    found = errors(k)
    assert len(found) == size
    assert found[-1].endswith('"Queue overflow"') and found[0].endswith('"Undefined header"')


def test_what_the_twins_take_from_pyvisa_sim_is_still_there() -> None:
    """The seam (sim_devices/seam.py): a pyvisa-sim release that moves one fails here."""
    from labrun.sim_devices import seam

    device = seam.Device("probe", delimiter=b"")
    for name in seam.DEVICE_ATTRIBUTES:
        assert hasattr(device, name), f"pyvisa-sim's Device has no {name} any more"
    for name in seam.DEVICE_METHODS:
        assert callable(getattr(seam.Device, name, None)), f"pyvisa-sim's Device has no {name}() any more"
    for name in seam.LIBRARY_METHODS:
        assert callable(getattr(seam.SimVisaLibrary, name, None)), f"SimVisaLibrary has no {name}() any more"
    assert callable(seam.parse_file) and callable(seam.update_component)


def test_a_bench_in_memory_serves_like_a_bench_file() -> None:
    import pyvisa

    from labrun.sim_devices import bench_in_memory

    path = bench_in_memory([{"address": "ASRL7::INSTR", "model": "keithley2400", "termination": "\r"}])
    assert path.startswith("memory:")
    resource = pyvisa.ResourceManager(f"{path}@labrun").open_resource(
        "ASRL7::INSTR", read_termination="\r", write_termination="\r"
    )
    assert isinstance(resource, pyvisa.resources.MessageBasedResource)
    assert "MODEL 2400" in resource.query("*IDN?")
    resource.close()
    with pytest.raises(ValueError, match=r"bench in memory: instruments\[0\]\.model: 'nope'"):
        bench_in_memory([{"address": "GPIB0::1::INSTR", "model": "nope"}])


@pytest.mark.parametrize("address", ["GPIB0::24::INSTR", "GPIB0::18::INSTR", "GPIB0::23::INSTR"])
def test_the_ieee_488_2_status_model(address: str) -> None:
    """*ESR? says which class of error happened and clears; *STB? sums the queues; *CLS clears."""
    import pyvisa

    k = pyvisa.ResourceManager("@labrun").open_resource(
        address, read_termination="\n", write_termination="\n"
    )
    assert isinstance(k, pyvisa.resources.MessageBasedResource)
    assert k.query("*ESR?") == "128"  # power on
    assert k.query("*ESR?") == "0"  # read and cleared
    k.write(":NO:SUCH:HEADER")  # -113: a command error
    assert k.query("*STB?") == "4"  # an error waits in the queue
    assert k.query("*ESR?") == "32"
    k.write(":SOUR:VOLT 1e6")  # -222: an execution error
    k.write("*ESE 16;*SRE 32")
    assert k.query("*ESE?;*SRE?") == "16;32"
    assert int(k.query("*STB?")) == 4 | 32 | 64  # queue, ESB (EXE enabled), and the summary
    k.write("*CLS")
    assert k.query("*STB?") == "0" and k.query("*ESR?") == "0"
    k.write("*OPC")
    assert k.query("*ESR?") == "1"
    k.write("*RST")  # keeps the enables (488.2 10.32)
    assert k.query("*ESE?") == "16"
    k.write("*ESE 300")
    assert k.query(":SYST:ERR?").startswith("-222")
    k.close()


def test_a_device_clear_drops_a_pending_answer() -> None:
    """viClear, as QCoDeS sends when it connects: the unread answer goes, the status stays."""
    import pyvisa

    k = pyvisa.ResourceManager("@labrun").open_resource(
        "GPIB0::24::INSTR", read_termination="\n", write_termination="\n"
    )
    assert isinstance(k, pyvisa.resources.MessageBasedResource)
    k.write("*IDN?")  # asked, not read
    k.clear()
    assert k.query("*OPC?") == "1"  # the next answer is the next question's, no -410
    assert k.query(":SYST:ERR?").startswith("0")
    k.close()


ALL = [K2400, K2450, B2901]


@pytest.mark.parametrize("address", ALL)
@pytest.mark.parametrize(
    ("value", "volts"),
    [
        ("100mV", 0.1),
        ("1 V", 1.0),
        ("1.5V", 1.5),
        ("2 MV", 0.002),
        ("5 kV", None),
        ("MAX", 210.0),
        ("DEF", 0.0),
    ],
)
def test_numbers_take_suffixes_multipliers_and_keywords(
    rm: pyvisa.ResourceManager, address: str, value: str, volts: float | None
) -> None:
    """IEEE 488.2 §7.7.3: ``M`` is milli (``MA`` would be mega), the unit must fit."""
    res = instrument(rm, address)
    res.write(f":SOUR:VOLT 0.5;:SOUR:VOLT {value}")
    if volts is None:  # 5 kV: a well-formed number beyond the range
        assert res.query(":SYST:ERR?").startswith("-222")
        assert float(res.query(":SOUR:VOLT?")) == 0.5
    else:
        assert float(res.query(":SOUR:VOLT?")) == pytest.approx(
            min(volts, twin_of(res).tree.level_limit("voltage"))
        )
        assert res.query(":SYST:ERR:COUN?") in ("0", "+0")


@pytest.mark.parametrize("address", ALL)
def test_a_wrong_unit_and_infinity_are_refused(rm: pyvisa.ResourceManager, address: str) -> None:
    res = instrument(rm, address)
    res.write(":SOUR:VOLT 2 A")
    res.write(":SOUR:CURR 10 MA")  # ten megaamperes, as SCPI reads it
    res.write(":SOUR:VOLT INF")
    assert (
        res.query(":SYST:ERR:ALL?")
        == '-131,"Invalid suffix",-222,"Data out of range",-222,"Data out of range"'
    )
    assert res.query(":SYST:ERR:ALL?") == '0,"No error"'


@pytest.mark.parametrize("address", ALL)
def test_common_commands_every_manual_lists(rm: pyvisa.ResourceManager, address: str) -> None:
    res = instrument(rm, address)
    assert res.query("*TST?") == "0" and res.query("*OPT?") == "0"
    res.write("*TRG;*WAI;:SYST:BEEP 2000, 0.2")
    res.write(":SOUR:VOLT 1.25;*SAV 2;*RST")
    assert float(res.query(":SOUR:VOLT?")) == 0.0
    res.write(":OUTP ON;*RCL 2")
    assert float(res.query(":SOUR:VOLT?")) == 1.25
    assert res.query(":OUTP?") in ("0", "OFF")  # a recall leaves the output off
    res.write("*RCL 3")  # nothing saved there
    res.write("*SAV 9")  # no such slot
    assert res.query(":SYST:ERR:ALL?") == '-221,"Settings conflict",-222,"Data out of range"'


def test_each_model_accepts_its_display_commands(rm: pyvisa.ResourceManager) -> None:
    for address, program in [
        (K2400, ':DISP:ENAB OFF;:DISP:TEXT:DATA "sweeping";:DISP:TEXT:STAT ON'),
        (K2450, ':DISP:LIGH:STAT ON25;:DISP:USER1:TEXT "sweeping";:DISP:SCR HOME;:DISP:CLE'),
        (B2901, ":DISP:ENAB ON;:DISP:VIEW GRAP"),
    ]:
        res = instrument(rm, address)
        res.write(program)
        assert res.query(":SYST:ERR:COUN?") in ("0", "+0"), address
