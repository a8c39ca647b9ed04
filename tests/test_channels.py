"""The channels of a two-channel source-meter (Keysight B2902): each a source-meter of its
own, sharing the connection and I/O lock, with its own device lock and output."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Iterator, Mapping

import pytest

from labrun.drivers import (
    DeviceBusy,
    DeviceLock,
    InstrumentError,
    KeysightB2902,
    LimitError,
    SourceMeter,
    WrongInstrument,
    open_sourcemeter,
)
from labrun.drivers.channels import on_channel
from labrun.experiments import Experiment, Point, start
from labrun.sim_devices.backend import twin_of

from .support import ServedTwins, run_script

B2902 = "GPIB0::22::INSTR"


@pytest.fixture
def b2902() -> Iterator[KeysightB2902]:
    driver = open_sourcemeter("keysight_b2902", B2902, sim=True, timeout=1.0)
    assert isinstance(driver, KeysightB2902)
    yield driver
    driver.close()


def test_a_channel_command_names_its_channel() -> None:
    assert on_channel(":SOUR:VOLT 1;:SYST:ERR:COUN?", 2) == ":SOUR2:VOLT 1;:SYST:ERR:COUN?"
    assert on_channel(":SENS:CURR:NPLC 1;:SENS:VOLT:NPLC 1", 2) == ":SENS2:CURR:NPLC 1;:SENS2:VOLT:NPLC 1"
    assert on_channel(":OUTP?", 2) == ":OUTP2?"
    assert on_channel(":MEAS? (@1)", 2) == ":MEAS? (@2)"
    assert on_channel(":TRIG:TRAN:DEL 0.1", 2) == ":TRIG2:TRAN:DEL 0.1"
    # instrument-wide commands stay as they are
    for command in ("*RST", ":FORM:ELEM:SENS VOLT,CURR", ":SYST:LFR?", ":SYST:ERR:COUN?"):
        assert on_channel(command, 2) == command


def test_channel_two_sends_its_own_scpi_and_has_its_own_output(b2902: KeysightB2902) -> None:
    twin = twin_of(b2902.instrument.resource)
    second = b2902.channel(2)
    assert second.name.endswith("channel 2") and second.channel_number == 2
    twin.log.clear()
    second.nplc = 2.0
    second.remote_sense = True
    second.set_current_limit(0.01)
    second.set_voltage(2.0)
    second.output_on()
    reading = second.measure()
    assert twin.log == [
        b":SENS2:CURR:NPLC 2;:SENS2:VOLT:NPLC 2;:SYST:ERR:COUN?",
        b":SENS2:CURR:NPLC?",
        b":SENS2:REM ON;:SYST:ERR:COUN?",
        b":SENS2:REM?",
        b":SENS2:CURR:PROT 1.000000E-02;:SYST:ERR:COUN?",
        b":SOUR2:VOLT 2.000000E+00;:SYST:ERR:COUN?",
        b":OUTP2 ON;:SYST:ERR:COUN?",
        b":MEAS? (@2)",
    ]
    assert reading.voltage == pytest.approx(2.0, rel=1e-3)  # the 1 kOhm behind it
    assert reading.current == pytest.approx(2e-3, rel=1e-2)
    assert twin.state[(2, "output")] and not twin.state[(1, "output")]
    assert b2902.nplc != 2.0 and not b2902.is_output_on()  # channel 1 untouched
    assert second.nplc == 2.0 and second.is_output_on()


def test_channels_share_the_io_lock_not_the_device_lock(b2902: KeysightB2902) -> None:
    second = b2902.channel(2)
    assert second.instrument is b2902.instrument  # one connection, one I/O lock
    assert second.device_lock is not b2902.device_lock
    assert b2902.channel(2) is second and b2902.channel(1) is b2902 and second.channel(1) is b2902


def test_channel_numbers_are_checked() -> None:
    with open_sourcemeter("keysight_b2902", B2902, sim=True) as b2902:
        for wrong in (0, 3, "2", True):
            with pytest.raises(LimitError, match=r"channels 1 \.\. 2"):
                b2902.channel(wrong)  # type: ignore[arg-type]
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as k2400:
        assert k2400.channel(1) is k2400
        with pytest.raises(LimitError, match=r"channels 1 \.\. 1"):
            k2400.channel(2)


def test_a_one_channel_b2901_is_not_taken_for_a_b2902() -> None:
    with pytest.raises(WrongInstrument, match="B2901A"):
        open_sourcemeter("keysight_b2902", "GPIB0::23::INSTR", sim=True)


class _Hold(Experiment):
    """Holds its channel until told to finish."""

    name = "hold"
    columns: Mapping[str, str] = {"step": ""}

    def __init__(self, smu: SourceMeter, release: threading.Event, holding: threading.Event) -> None:
        super().__init__(smu)
        self.release, self.holding = release, holding

    def total_steps(self) -> int:
        return 1

    def setup(self) -> None:
        self.instrument.output_on()  # type: ignore[union-attr]

    def steps(self) -> Iterator[Point]:
        self.holding.set()
        while not self.release.is_set() and not self.wait(0.01):
            pass
        yield {"step": 0}

    def teardown(self) -> None:
        self.instrument.shutdown()  # type: ignore[union-attr]


def test_runs_on_two_channels_run_at_once_never_two_on_one(b2902: KeysightB2902) -> None:
    second = b2902.channel(2)
    release = threading.Event()
    held = [threading.Event(), threading.Event()]
    runs = [start(_Hold(b2902, release, held[0])), start(_Hold(second, release, held[1]))]
    assert held[0].wait(5) and held[1].wait(5)  # both channels measured at once
    with pytest.raises(DeviceBusy, match="channel 2 is in use by hold"):
        _Hold(second, release, threading.Event()).run(blocking=False)
    with pytest.raises(InstrumentError, match=r"would reset .*channel 2, in use by hold"):
        b2902.reset()  # *RST resets both channels: refused while one is in a run
    release.set()
    for run in runs:
        run.result(timeout=5)
    twin = twin_of(b2902.instrument.resource)
    assert not twin.state[(1, "output")] and not twin.state[(2, "output")]


def test_closing_the_instrument_stops_the_run_on_channel_two_and_turns_it_off() -> None:
    b2902 = open_sourcemeter("keysight_b2902", B2902, sim=True)
    twin = twin_of(b2902.instrument.resource)
    holding = threading.Event()
    run = start(_Hold(b2902.channel(2), threading.Event(), holding))
    assert holding.wait(5)
    b2902.close()
    assert run.progress.state == "stopped" and not run.running
    assert not twin.state[(2, "output")]


def test_leaving_the_with_block_turns_every_channel_off_channel_one_last() -> None:
    with open_sourcemeter("keysight_b2902", B2902, sim=True) as b2902:
        twin = twin_of(b2902.instrument.resource)
        for channel, volts in ((b2902, 1.0), (b2902.channel(2), 2.0)):
            channel.set_current_limit(0.01)
            channel.set_voltage(volts)
            channel.output_on()
        twin.log.clear()
    offs = [m for m in twin.log if m.startswith((b":OUTP OFF", b":OUTP2 OFF"))]
    assert offs == [b":OUTP2 OFF;:SYST:ERR:COUN?", b":OUTP OFF;:SYST:ERR:COUN?"]
    assert not twin.state[(1, "output")] and not twin.state[(2, "output")]


def test_resistance_is_one_reading_format_for_both_channels(b2902: KeysightB2902) -> None:
    second = b2902.channel(2)
    for channel in (b2902, second):
        channel.set_current_limit(0.01)
        channel.set_voltage(1.0)
        channel.output_on()
    second.measure_resistance = True  # :FORM:ELEM:SENS is the instrument's, not the channel's
    assert second.measure().resistance == pytest.approx(1000, rel=1e-2)
    first = b2902.measure()  # channel 1 still parses its readings; it sensed no resistance
    assert first.voltage == pytest.approx(1.0, rel=1e-3) and first.resistance != first.resistance  # NaN


def test_instruments_on_one_host_have_lock_files_of_their_own(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found with the served B2902: the lock file was named with Path.with_suffix, which
    took everything after 127.0.0 for a suffix, so every instrument on one host (and each
    channel of one) shared one lock file, and a run on one refused the other."""
    monkeypatch.setenv("LABRUN_LOCK_DIR", str(tmp_path))
    first = DeviceLock("TCPIP0::127.0.0.1::5025::SOCKET", interprocess=True)
    second = DeviceLock("TCPIP0::127.0.0.1::5025::SOCKET channel 2", interprocess=True)
    first.acquire("one run", blocking=False)
    second.acquire("another run", blocking=False)  # refused as "in use" before the fix
    try:
        assert len(list(tmp_path.glob("*.lock"))) == 2
    finally:
        second.release()
        first.release()


SCRIPT_ENDS_WITH_BOTH_ON = """
import sys
from labrun.drivers import open_sourcemeter
b2902 = open_sourcemeter("keysight_b2902", sys.argv[1], backend="@py")
for channel, volts in ((b2902, 1.0), (b2902.channel(2), 2.0)):
    channel.set_current_limit(0.01)
    channel.set_voltage(volts)
    channel.output_on()
print("both on", flush=True)
"""  # and the script ends, closing nothing


def test_a_script_that_ends_with_both_channels_on_leaves_them_off(tmp_path: pathlib.Path) -> None:
    with ServedTwins() as served:
        script = tmp_path / "ends.py"
        script.write_text(
            SCRIPT_ENDS_WITH_BOTH_ON.replace("sys.argv[1]", repr(served.address("keysight_b2902")))
        )
        assert "both on" in run_script(script, tmp_path)
        channels = served.status("keysight_b2902")["channels"]
        assert [(c["output"], c["level"]) for c in channels] == [(False, 0.0), (False, 0.0)]  # ramped, off
        offs = [m.split(";")[0] for m in served.log("keysight_b2902", last=40) if m.startswith(":OUTP")]
        assert offs[-2:] == [":OUTP2 OFF", ":OUTP OFF"]  # channel 2 first
