"""A driver's snapshot: every readable setting of its model, read back from the instrument
(not the driver's copy), with units; what the instrument refuses is recorded, a timeout ends it."""

from __future__ import annotations

import json
import threading
from typing import Any

import pint
import pytest

from labrun.drivers import (
    Instrument,
    InstrumentTimeout,
    Keithley2400,
    SourceMeter,
    open_resource,
    open_sourcemeter,
)
from labrun.drivers.settings import Commanded, Number, Setting
from labrun.sim_devices.faults import Fault

from .support import BENCH, speaks_tsp, twin

UNITS: pint.UnitRegistry[Any] = pint.UnitRegistry()


def other_value(setting: Commanded, model: type, now: Any) -> Any:
    """A value the model allows that is not ``now``: what a hand on the front panel would set."""
    if setting.choices is not None:
        return next(choice for choice in setting.choices if choice != now)
    assert isinstance(setting, Number), setting.name
    low, high = setting.bounds(model) or (setting.low, setting.high)
    return low if float(now) >= high * (1 - 1e-6) else high


def test_a_snapshot_holds_every_readable_setting_of_the_model_with_its_unit(smu: SourceMeter) -> None:
    shot = smu.snapshot()
    readable = [name for name, setting in smu.setting_table().items() if setting.readable]
    assert list(shot["settings"]) == readable and shot["errors"] == {}
    assert list(shot["units"]) == readable
    for name in (
        "mode",
        "level",
        "current_limit",
        "voltage_limit",
        "output_enabled",
        "measure_resistance",
        "nplc",
        "remote_sense",
        "line_frequency",
        "output_off_state",
        "source_delay",
        "voltage_source_range",
        "current_measure_autorange",
    ):
        assert name in shot["settings"], name
    wanted = (
        {"aperture"} if smu.model.startswith("keysight") else {"averaging", "autozero", "source_delay_auto"}
    )
    if not speaks_tsp(smu):  # the 2600B has no offset-compensated ohms
        wanted.add("offset_compensation")
    assert wanted <= set(shot["settings"])
    assert (shot["model"], shot["name"], shot["channel"]) == (smu.model, smu.name, 1)
    assert shot["address"] == smu.instrument.resource.resource_name and shot["backend"] == "@labrun"
    assert shot["identity"] == smu.identify()
    assert json.loads(json.dumps(shot, allow_nan=False)) == shot  # a record can hold it as it is
    units = shot["units"]
    assert (units["level"], units["current_limit"], units["voltage_limit"]) == ("V", "A", "V")
    assert (units["line_frequency"], units["source_delay"], units["nplc"], units["mode"]) == (
        "Hz",
        "s",
        "",
        "",
    )
    for name, unit in units.items():  # each parses as pint's, with the dimension its name says
        quantity = UNITS.Quantity(1.0, unit)
        if name.endswith(("voltage_source_range", "voltage_measure_range")):
            assert quantity.check("[electric_potential]"), name
        if name.endswith(("current_source_range", "current_measure_range")):
            assert quantity.check("[current]"), name


def test_the_source_state_is_the_instruments_not_the_drivers_copy(smu: SourceMeter) -> None:
    scpi, write = type(smu).scpi, smu.instrument.write
    write(scpi.voltage_limit.format(value=5.0))  # behind the driver's back: its copy stays as it was
    write(scpi.source_current)
    write(scpi.current_level.format(value=2e-3))
    write(scpi.output_on)
    shot = smu.snapshot()
    settings = shot["settings"]
    assert (settings["mode"], settings["output_enabled"]) == ("current", True)
    assert settings["level"] == pytest.approx(2e-3) and settings["voltage_limit"] == pytest.approx(5.0)
    assert shot["units"]["level"] == "A"  # the level's unit follows the mode read back
    assert (smu.mode, smu.level, smu.output_enabled) == ("voltage", 0.0, False)
    write(scpi.output_off)


def test_every_setting_changed_behind_the_drivers_back_is_read_back_as_the_instrument_holds_it(
    smu: SourceMeter,
) -> None:
    model = type(smu)
    changed = 0
    for name, setting in smu.setting_table().items():
        if not isinstance(setting, Commanded) or not setting.writable:
            continue
        before = smu.snapshot()["settings"][name]
        value = other_value(setting, model, before)
        smu.instrument.write(setting.set_cmd.format(value=setting.to_scpi(value)))
        after = smu.snapshot()["settings"][name]
        assert after != before and setting.holds(after, value), (name, before, value, after)
        changed += 1
    assert changed >= 13  # the ranges and autoranges, NPLC, sense, delay, off state, ...


def test_a_front_panel_change_in_the_twin_shows(smu: SourceMeter) -> None:
    twin(smu).state[(1, "current_nplc")] = 3.0
    twin(smu).state[(1, "remote_sense")] = True
    settings = smu.snapshot()["settings"]
    assert settings["nplc"] == 3.0 and settings["remote_sense"] is True


def test_measure_resistance_is_read_from_the_reading_format(smu: SourceMeter) -> None:
    if not type(smu).scpi.resistance_on:  # the 2450's reading query names its own elements
        assert smu.snapshot()["settings"]["measure_resistance"] is False
        return
    for command in type(smu).scpi.resistance_on:
        smu.instrument.write(command)
    assert smu.snapshot()["settings"]["measure_resistance"] is True
    assert smu.measure_resistance is False  # the driver's copy: it was not told


def test_channel_two_of_a_b2902_reads_back_its_own_channel() -> None:
    with open_sourcemeter("keysight_b2902", "GPIB0::22::INSTR", sim=True) as b2902:
        second = b2902.channel(2)
        nplc = second.setting("nplc")
        assert isinstance(nplc, Commanded)
        second.instrument.write(nplc.set_cmd.format(value=7))  # channel 2's own command
        second.instrument.write(type(second).scpi.voltage_level.format(value=1.5))
        ch2, ch1 = second.snapshot(), b2902.snapshot()
    assert (ch2["channel"], ch2["settings"]["nplc"], ch2["settings"]["level"]) == (2, 7.0, 1.5)
    assert ch1["settings"]["nplc"] != 7.0 and ch1["settings"]["level"] == 0.0
    assert ch2["name"].endswith("channel 2") and ch2["address"] == ch1["address"]


class Witness(Setting):
    """A setting that says, when read, whether another thread could take the I/O lock."""

    def __init__(self) -> None:
        super().__init__(unit="", doc="the I/O lock, as another thread finds it")

    def read(self, driver: Any) -> Any:
        taken: list[bool] = []

        def other_thread() -> None:
            got = driver.instrument.io_lock.acquire(blocking=False)
            taken.append(got)
            if got:
                driver.instrument.io_lock.release()

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(5)
        return "free" if taken == [True] else "held"


class Probe(Keithley2400):
    """A 2400 driver declaring one setting the instrument does not know, and a witness."""

    bogus = Number(":SYST:BOGUS {value}", ":SYST:BOGUS?", low=0, high=1, unit="V", doc="not a 2400 command")
    io_lock_seen = Witness()


def test_a_setting_the_instrument_refuses_is_recorded_and_the_rest_read() -> None:
    instrument = Instrument(open_resource("GPIB0::24::INSTR", "@labrun"), name="probe", timeout=1.0)
    with Probe(instrument) as probe:
        probe.configure()
        probe.sync()
        shot = probe.snapshot()
        assert list(shot["errors"]) == ["bogus"] and "Undefined header" in shot["errors"]["bogus"]
        assert shot["settings"]["io_lock_seen"] == "held"  # the whole snapshot is one hold of the lock
        assert Probe.io_lock_seen.read(probe) == "free"  # and the witness tells the difference
        assert "bogus" not in shot["settings"] and shot["settings"]["nplc"] == 1.0
        assert instrument.errors() == []  # the refusal was taken off the queue: no later command is blamed
        probe.nplc = 2


def test_a_silent_instrument_costs_the_snapshot_one_timeout() -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True, timeout=0.2) as smu:
        simulated = twin(smu)
        simulated.set_fault(Fault("timeout", after=simulated.answered + 3))  # *IDN?, two batches, then...
        sent = len(simulated.log)
        with pytest.raises(InstrumentTimeout) as caught:
            smu.snapshot()
        # the settings asked a dozen a message; the fourth message gets no answer: nothing after it
        messages = simulated.log[sent:]
        assert len(messages) == 4 and messages[0] == b"*IDN?;:SYST:ERR:COUN?"
        assert all(m.endswith(b";:SYST:ERR:COUN?") and m.count(b"?") > 2 for m in messages[1:3])
        assert messages[3].decode().startswith(caught.value.command)
        simulated.set_fault(None)


@pytest.mark.parametrize("name", sorted(BENCH))
def test_the_settings_asked_a_dozen_a_message_read_as_asked_one_by_one(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why batches: a snapshot asks some twenty settings, each a round trip on a bus; a
    dozen in one message read back exactly what asking each alone reads."""
    import labrun.drivers.snapshot as snapshot

    with open_sourcemeter(name, BENCH[name], sim=True) as smu:
        simulated = twin(smu)
        before = simulated.answered
        batched = smu.snapshot()
        batched_answers = simulated.answered - before
        monkeypatch.setattr(snapshot, "_in_batches", lambda *args: {})
        before = simulated.answered
        alone = smu.snapshot()
        assert batched["settings"] == alone["settings"] and batched["errors"] == alone["errors"] == {}
        assert batched_answers * 2 < simulated.answered - before  # far fewer round trips
