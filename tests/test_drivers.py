"""Each driver against its simulated twin: the operations scripts rely on."""

from __future__ import annotations

import math
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest

from labrun.drivers import (
    ConnectionFailed,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
    SourceMeter,
    open_sourcemeter,
)
from labrun.sim_devices import Diode, OpenCircuit, Resistor

from .support import BENCH, speaks_tsp, twin


def test_identify_names_the_model(smu: SourceMeter) -> None:
    idn = smu.identify()
    expected = {
        "keithley2400": "MODEL 2400",
        "keithley2450": "MODEL 2450",
        "keysight_b2901": "B2901A",
        "keysight_b2902": "B2902A",
        "keithley2636b": "Model 2636B",
    }
    assert expected[smu.model] in idn


def test_one_volt_on_the_default_load_reads_one_milliamp(smu: SourceMeter) -> None:
    smu.set_current_limit(0.01)
    smu.set_voltage(1.0)
    smu.output_on()
    reading = smu.measure()
    assert reading.voltage == pytest.approx(1.0, rel=1e-3)
    assert reading.current == pytest.approx(1e-3, rel=1e-3)
    assert reading.timestamp > 1.6e9


def test_set_and_get_level_in_both_modes(smu: SourceMeter) -> None:
    smu.set_voltage(2.5)
    assert (smu.mode, smu.get_level()) == ("voltage", pytest.approx(2.5))
    smu.set_voltage_limit(5.0)
    smu.set_current(2e-3)
    assert (smu.mode, smu.get_level()) == ("current", pytest.approx(2e-3))
    smu.sync()  # what the instrument says agrees with what the driver believes
    assert (smu.mode, smu.level, smu.voltage_limit) == ("current", pytest.approx(2e-3), pytest.approx(5.0))


def test_current_source_mode_follows_ohms_law(smu: SourceMeter) -> None:
    smu.set_voltage_limit(20.0)
    smu.set_current(5e-3)
    smu.output_on()
    reading = smu.measure()
    assert reading.current == pytest.approx(5e-3, rel=1e-3)
    assert reading.voltage == pytest.approx(5.0, rel=1e-3)


@pytest.mark.parametrize("resistance", [10.0, 1e3, 1e6])
def test_ohms_law_within_noise(model: str, resistance: float) -> None:
    with open_sourcemeter(model, BENCH[model], sim=True) as smu:
        twin(smu).load = Resistor(resistance)
        smu.set_current_limit(0.1)
        smu.set_voltage(0.5)
        smu.output_on()
        currents = [smu.measure().current for _ in range(20)]
        mean = sum(currents) / len(currents)
        assert mean == pytest.approx(0.5 / resistance, rel=2e-3)
        assert len(set(currents)) > 1  # there is noise, as on the bench


def test_compliance_clips_the_current_and_drops_the_voltage(
    smu: SourceMeter, caplog: pytest.LogCaptureFixture
) -> None:
    smu.set_current_limit(1e-3)
    smu.set_voltage(0.5)
    smu.output_on()
    assert not smu.measure().in_compliance
    smu.set_voltage(5.0)  # 5 mA into 1 kOhm would exceed the 1 mA limit
    reading = smu.measure()
    assert reading.current == pytest.approx(1e-3, rel=1e-3)
    assert reading.voltage == pytest.approx(1.0, rel=1e-3)  # 1 mA x 1 kOhm
    assert reading.in_compliance
    assert "reading at the current limit (0.001 A)" in caplog.text


def test_a_fresh_2400_clips_at_its_reset_compliance_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """The 2400 resets to a 105 µA limit: 1 V on 1 kOhm reads 105 µA until it is raised."""
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, reset=True) as smu:
        smu.set_voltage(1.0)
        smu.output_on()
        first = smu.measure()
        assert first.in_compliance and first.current == pytest.approx(1.05e-4, rel=1e-3)
        assert "set_current_limit()" in caplog.text
        smu.set_current_limit(0.01)
        assert smu.measure().current == pytest.approx(1e-3, rel=1e-3)


def test_voltage_compliance_in_current_mode(smu: SourceMeter) -> None:
    twin(smu).load = OpenCircuit()
    smu.set_voltage_limit(3.0)
    smu.set_current(1e-3)
    smu.output_on()
    reading = smu.measure()
    assert reading.voltage == pytest.approx(3.0, rel=1e-3)
    assert abs(reading.current) < 1e-6


def test_diode_curve_is_exponential_forward_and_blocks_reverse(smu: SourceMeter) -> None:
    twin(smu).load = Diode(saturation_current=1e-12, ideality=1.0, temperature=300.0)
    smu.set_current_limit(0.1)
    smu.output_on()
    currents = {}
    for volts in (-1.0, 0.3, 0.4, 0.5):
        smu.set_voltage(volts)
        currents[volts] = smu.measure().current
    assert abs(currents[-1.0]) < 1e-9
    # one decade per n*kT/q*ln(10) ~ 59.5 mV at 300 K: 100 mV -> ~48x
    for low, high in ((0.3, 0.4), (0.4, 0.5)):
        ratio = currents[high] / currents[low]
        assert ratio == pytest.approx(math.exp(0.1 / (8.617333262e-5 * 300)), rel=0.02)


def test_output_off_after_shutdown_with_a_ramp(smu: SourceMeter) -> None:
    smu.set_current_limit(0.05)
    smu.set_voltage(10.0)
    smu.output_on()
    assert smu.is_output_on()
    log = twin(smu).log
    before = len(log)
    smu.shutdown(steps=5)
    setter = type(smu).scpi.voltage_level.split("{")[0]  # ":SOUR:VOLT:LEV ", "smua.source.levelv = "
    ramp = [m.decode()[len(setter) :] for m in log[before:] if m.decode().startswith(setter)]
    assert not smu.is_output_on()
    assert not smu.output_enabled
    assert smu.get_level() == 0.0
    assert len(ramp) == 5  # 8, 6, 4, 2, 0 V
    assert [float(m.split(";")[0]) for m in ramp] == pytest.approx([8, 6, 4, 2, 0])


def test_context_manager_leaves_the_output_off(model: str) -> None:
    with open_sourcemeter(model, BENCH[model], sim=True) as smu:
        smu.set_current_limit(0.01)
        smu.set_voltage(1.0)
        smu.output_on()
        state = twin(smu).state
    assert state[(1, "output")] is False
    assert state[(1, "voltage")] == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.set_voltage(250.0),
        lambda s: s.set_voltage(-210.5),
        lambda s: s.set_voltage(float("nan")),
        lambda s: s.set_current(3.5),
        lambda s: s.set_current_limit(0.0),
        lambda s: s.set_current_limit(2.0),
        lambda s: s.set_voltage_limit(500.0),
    ],
    ids=["V>max", "V<-max", "V nan", "I>max", "Ilim=0", "Ilim>max", "Vlim>max"],
)
def test_values_out_of_range_are_refused_before_any_write(
    smu: SourceMeter, call: Callable[[SourceMeter], None]
) -> None:
    log = twin(smu).log
    before = len(log)
    with pytest.raises(ValueError, match="allowed"):
        call(smu)
    assert len(log) == before


def test_power_envelope_refuses_high_voltage_with_a_high_current_limit(smu: SourceMeter) -> None:
    smu.set_current_limit(0.5)
    log = twin(smu).log
    before = len(log)
    with pytest.raises(LimitError, match="power envelope"):
        smu.set_voltage(100.0)
    assert len(log) == before
    smu.set_current_limit(0.05)
    smu.set_voltage(100.0)  # allowed once the limit is inside the envelope


#: a command the instrument does not know, and the error it queues: SCPI's undefined header,
#: TSP's Lua syntax error (a TSP instrument takes the SCPI command as a Lua chunk)
UNKNOWN = {"scpi": (":SOUR:FROB 1", "-113"), "tsp": ("smua.source.frob 1", "-285")}


def test_instrument_error_names_the_command(smu: SourceMeter) -> None:
    command, code = UNKNOWN["tsp" if speaks_tsp(smu) else "scpi"]
    with pytest.raises(InstrumentError, match=rf"{re.escape(command)}.*{code}") as info:
        smu.instrument.write(command)
    assert info.value.command == command
    assert smu.instrument.errors() == []  # the queue was emptied into the message


def test_a_timeout_is_not_followed_by_an_error_queue_query(smu: SourceMeter) -> None:
    """A silent instrument would not answer the queue either: each query costs a timeout."""
    smu.instrument.timeout = 0.1
    before = len(twin(smu).log)
    with pytest.raises(InstrumentTimeout, match=r":NOT:A:QUERY\?' failed: no answer within 0.1 s$"):
        smu.instrument.query(":NOT:A:QUERY?")
    assert twin(smu).log[before:] == [b":NOT:A:QUERY?"]
    code = "-285" if speaks_tsp(smu) else "-113"  # TSP: not Lua, a syntax error
    assert smu.instrument.errors()[0].startswith(code)  # still there for whoever asks


def test_keithley2400_refuses_to_read_with_output_off() -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        with pytest.raises(InstrumentError, match="output is off"):
            smu.measure()
        smu.instrument.timeout = 0.1  # the instrument itself answers nothing: +803
        with pytest.raises(InstrumentTimeout):
            smu.instrument.query(":READ?")
        assert smu.instrument.errors()[0].startswith("803")


def test_unknown_model_and_bad_address_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="known models: keithley2400"):
        open_sourcemeter("keithley9999", "GPIB0::24::INSTR", sim=True)
    with pytest.raises(ConnectionFailed, match=r"GPIB0::5::INSTR.*resources found: .*GPIB0::24::INSTR"):
        open_sourcemeter("keithley2400", "GPIB0::5::INSTR", sim=True)
    with pytest.raises(ConnectionFailed, match="not a VISA resource name"):
        open_sourcemeter("keithley2400", "not an address", sim=True)


def test_reset_restores_defaults(smu: SourceMeter) -> None:
    smu.set_current_limit(0.01)
    smu.set_voltage(3.0)
    smu.output_on()
    smu.reset()
    assert not smu.is_output_on()
    assert smu.level == 0.0
    assert smu.mode == "voltage"


def test_each_open_gets_its_own_twin(model: str) -> None:
    with (
        open_sourcemeter(model, BENCH[model], sim=True) as a,
        open_sourcemeter(model, BENCH[model], sim=True) as b,
    ):
        a.set_voltage(1.5)
        assert b.get_level() == 0.0
        assert twin(a) is not twin(b)


# ------------------------------------------------ terminations and serial lines


@pytest.fixture
def serial_bench(tmp_path: pathlib.Path) -> str:
    """A 2400 on RS-232 set to CR, as many are on the bench."""
    path = tmp_path / "bench.yaml"
    path.write_text('instruments:\n  - {address: ASRL1::INSTR, model: keithley2400, termination: "\\r"}\n')
    return str(path)


def test_a_serial_2400_set_to_cr_is_spoken_to_with_cr(serial_bench: str) -> None:
    with open_sourcemeter(
        "keithley2400", "ASRL1::INSTR", sim=serial_bench, termination="\r", baud_rate=9600
    ) as smu:
        assert smu.instrument.resource.baud_rate == 9600  # type: ignore[attr-defined]
        assert smu.instrument.resource.write_termination == "\r"
        smu.set_current_limit(0.01)
        smu.set_voltage(1.0)
        smu.output_on()
        assert smu.measure().current == pytest.approx(1e-3, rel=1e-2)
        assert twin(smu).log[-1].endswith(b":READ?")  # the CR was taken as the end


def test_the_wrong_termination_times_out_at_open_with_a_hint(serial_bench: str) -> None:
    with pytest.raises(InstrumentTimeout) as caught:
        open_sourcemeter("keithley2400", "ASRL1::INSTR", sim=serial_bench, timeout=0.2, baud_rate=9600)
    assert "*IDN?" in str(caught.value)
    assert "termination '\\n' and baud rate 9600" in " ".join(caught.value.__notes__)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"termination": "\x00"}, r"termination '\\x00'; allowed: '\\n', '\\r', '\\r\\n'"),
        ({"baud_rate": 9600}, r"baud_rate applies to serial \(ASRL...\) addresses only"),
    ],
)
def test_bad_link_settings_are_refused_before_opening(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, **options)


def test_an_unusual_baud_rate_is_refused(serial_bench: str) -> None:
    with pytest.raises(ValueError, match=r"baud_rate 9601; allowed: 300, .*, 115200"):
        open_sourcemeter("keithley2400", "ASRL1::INSTR", sim=serial_bench, baud_rate=9601)
