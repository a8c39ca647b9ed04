"""Instrument-side (hardware) sweeps: the instrument steps its source into its buffer, the
run polls it; the data file and the live view are those of a stepped sweep."""

from __future__ import annotations

import pathlib
import time

import pytest
import yaml

from labrun.drivers import InstrumentError, LimitError, Reading, SourceMeter, open_sourcemeter
from labrun.experiments import IVSweep, Saving, load_data, start
from labrun.experiments.cli.main import main
from labrun.sim_devices import realistic_bench, twin_of

from .support import BENCH, twin

#: the bytes each model's sweep sends for levels 0, 0.5, 1 V and a 10 ms source delay
SETUP = {
    "keithley2400": [
        ":SOUR:VOLT:MODE LIST",
        ":SOUR:LIST:VOLT 0.000000E+00,5.000000E-01,1.000000E+00",
        ":SOUR:DEL 0.01",
        ":TRIG:COUN 3",
        ":TRAC:CLE",
        ":TRAC:POIN 3",
        ":TRAC:FEED SENS",
        ":TRAC:FEED:CONT NEXT",
        ":INIT",
    ],
    "keithley2450": [
        ":SOUR:LIST:VOLT 0.000000E+00,5.000000E-01,1.000000E+00",
        ':TRAC:CLE "defbuffer1"',
        ':SOUR:SWE:VOLT:LIST 1, 0.01, 1, OFF, "defbuffer1"',
        ":INIT",
    ],
    "keysight_b2901": [
        ":SOUR:VOLT:MODE LIST",
        ":SOUR:LIST:VOLT 0.000000E+00,5.000000E-01,1.000000E+00",
        ":TRIG:TRAN:DEL 0.01",
        ":TRIG:COUN 3",
        ":TRAC:CLE",
        ":TRAC:POIN 3",
        ":TRAC:FEED:CONT NEXT",
        ":INIT (@1)",
    ],
}


def sent(smu: SourceMeter, since: int) -> list[str]:
    """The commands the driver sent, without the error-queue check riding on each."""
    return [m.decode().split(";:SYST:ERR:COUN?")[0] for m in twin(smu).log[since:]]


@pytest.mark.parametrize("model", list(SETUP))
def test_each_model_sends_its_sweep_as_its_manual_writes_it(model: str) -> None:
    with open_sourcemeter(model, BENCH[model], sim=True) as smu:
        smu.current_limit = 0.01
        smu.output_on()
        before = len(twin(smu).log)
        smu.start_sweep([0.0, 0.5, 1.0], delay=0.01)
        assert sent(smu, before) == SETUP[model]
        assert smu.sweep_count() == 3
        readings = smu.sweep_readings(0, 3)
        assert [r.voltage for r in readings] == pytest.approx([0.0, 0.5, 1.0], abs=1e-3)  # noise 1e-4
        assert [r.current for r in readings] == pytest.approx([0.0, 5e-4, 1e-3], abs=1e-6)
        assert [r.current for r in smu.sweep_readings(1, 3)] == pytest.approx(
            [5e-4, 1e-3], abs=1e-6
        )  # a chunk
        smu.end_sweep(3)
        assert smu.level == 1.0
        assert smu.measure().current == pytest.approx(1e-3, rel=0.01)  # fixed-level sourcing again


@pytest.mark.parametrize("model", list(SETUP))
def test_a_hardware_sweep_gives_the_data_file_of_a_stepped_one(model: str, tmp_path: pathlib.Path) -> None:
    with open_sourcemeter(model, BENCH[model], sim=True) as smu:
        files = {}
        for kind in ("stepped", "hardware"):
            sweep = IVSweep(
                smu,
                start=-1.0,
                stop=1.0,
                num_points=11,
                compliance=0.01,
                sweep=kind,
                save=Saving(str(tmp_path / kind)),
            )
            sweep.run()
            assert sweep.data_file is not None
            files[kind] = load_data(sweep.data_file.path)
        stepped, hardware = files["stepped"], files["hardware"]
        assert list(hardware.columns) == list(stepped.columns)
        assert hardware["step"].tolist() == list(range(11))
        assert hardware["source"].tolist() == stepped["source"].tolist()
        assert hardware["current"] == pytest.approx(stepped["current"], abs=2e-6)  # both on the 1 kOhm load
        assert hardware.metadata["parameters"]["sweep"] == "hardware"
        assert twin(smu).state[(1, "output")] is False


def test_a_list_longer_than_a_command_is_appended_and_log_spacing_steps_geometrically() -> None:
    with open_sourcemeter("keithley2450", BENCH["keithley2450"], sim=True) as smu:
        sweep = IVSweep(
            smu, start=1e-3, stop=10.0, num_points=250, compliance=0.01, spacing="log", sweep="hardware"
        )
        before = len(twin(smu).log)
        data = sweep.run()
        appends = [m for m in sent(smu, before) if m.startswith(":SOUR:LIST:VOLT:APP")]
        assert len(appends) == 2  # 100 + 100 + 50 values
        ratios = data["source"][1:] / data["source"][:-1]
        assert ratios == pytest.approx(ratios[0], rel=1e-6) and data["source"][-1] == pytest.approx(10.0)


@pytest.mark.parametrize("model", list(SETUP))
def test_stop_mid_sweep_aborts_keeps_every_reading_and_turns_the_output_off(
    model: str, tmp_path: pathlib.Path
) -> None:
    with open_sourcemeter(model, BENCH[model], sim=realistic_bench()) as smu:
        smu.nplc = 1  # type: ignore[attr-defined]  # 20 ms or more a reading: 400 points take seconds
        sweep = IVSweep(
            smu,
            start=0.0,
            stop=2.0,
            num_points=400,
            compliance=0.01,
            sweep="hardware",
            poll_interval=0.02,
            save=Saving(str(tmp_path)),
        )
        run = start(sweep)
        seen: list[int] = []
        while len(seen) < 3 or seen[-1] < 3:  # progress moves while the instrument sweeps
            seen.append(run.progress.step)
            time.sleep(0.02)
        run.stop()
        assert run.wait(10)
        assert run.progress.state == "stopped"
        assert 3 <= run.progress.step < 400
        assert sweep.data_file is not None
        kept = load_data(sweep.data_file.path)
        swept = twin_of(smu.instrument.resource).sweep
        assert swept is not None and swept.aborted is not None
        assert len(kept) == run.progress.step == swept.collected  # every reading taken, none lost
        assert kept["source"].tolist() == pytest.approx([2.0 * k / 399 for k in range(len(kept))])
        assert twin_of(smu.instrument.resource).state[(1, "output")] is False


def test_opc_waits_for_the_sweep_to_end() -> None:
    with open_sourcemeter("keysight_b2901", BENCH["keysight_b2901"], sim=realistic_bench()) as smu:
        smu.nplc = 0.1  # type: ignore[attr-defined]
        smu.current_limit = 0.01
        smu.output_on()
        twin_ = twin_of(smu.instrument.resource)
        smu.start_sweep([k / 100 for k in range(50)], delay=0.001)
        assert smu.sweep_count() < 50
        assert smu.instrument.query("*OPC?") == "1"
        assert twin_.sweep is not None and time.monotonic() >= twin_.sweep.end
        assert smu.sweep_count() == 50


def test_a_failing_instrument_mid_sweep_fails_the_run_keeps_the_points_and_turns_the_output_off(
    tmp_path: pathlib.Path,
) -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=realistic_bench()) as smu:
        smu.nplc = 0.1  # type: ignore[attr-defined]
        read_back, calls = smu.sweep_readings, {"n": 0}

        def failing(start: int, stop: int) -> list[Reading]:  # the second chunk never comes
            calls["n"] += stop > start
            if calls["n"] == 2:
                raise InstrumentError(smu.name, ":TRAC:DATA?", "simulated failure")
            return read_back(start, stop)

        smu.sweep_readings = failing  # type: ignore[method-assign]
        save = Saving(str(tmp_path))
        sweep = IVSweep(
            smu, start=0.0, stop=1.0, num_points=100, compliance=0.01, sweep="hardware", save=save
        )
        with pytest.raises(InstrumentError, match="simulated failure"):
            sweep.run()
        swept = twin(smu).sweep
        assert swept is not None and swept.aborted is not None  # it stopped stepping
        assert twin(smu).state[(1, "output")] is False
        assert sweep.data_file is not None
        kept = load_data(sweep.data_file.path)
        assert 1 <= len(kept) < 100 and kept["step"].tolist() == list(range(len(kept)))


def test_a_sweep_the_buffer_cannot_hold_is_refused_before_anything_is_written(tmp_path: pathlib.Path) -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        before = len(twin(smu).log)
        with pytest.raises(LimitError, match="buffers at most 2500"):
            IVSweep(smu, start=0.0, stop=1.0, num_points=3000, compliance=0.01, sweep="hardware")
        with pytest.raises(LimitError, match="outside the allowed"):
            smu.start_sweep([0.0, 500.0])
        assert len(twin(smu).log) == before
    config = {
        "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
        "experiment": {
            "type": "iv_sweep",
            "start": 0,
            "stop": 1,
            "num_points": 3000,
            "compliance": 0.01,
            "sweep": "hardware",
        },
    }
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["check", str(path)]) == 2


def test_the_yaml_key_runs_a_hardware_sweep(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {
        "instrument": {
            "model": "keithley2450",
            "address": "GPIB0::18::INSTR",
            "sim": True,
            "timing": "realistic",
        },
        "experiment": {
            "type": "iv_sweep",
            "start": "0 V",
            "stop": "1 V",
            "num_points": 21,
            "compliance": "10 mA",
            "sweep": "hardware",
            "poll_interval": "20 ms",
        },
        "save": {"directory": str(tmp_path), "plot": True},
    }
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["check", str(path)]) == 0
    assert "hardware (polled every 0.02 s)" in capsys.readouterr().out
    assert main(["run", str(path), "--no-progress"]) == 0
    data = load_data(next(tmp_path.glob("*.csv")))
    assert data["source"].tolist() == pytest.approx([k / 20 for k in range(21)])
    assert next(tmp_path.glob("*.png")).stat().st_size > 0


def test_leaving_the_with_block_during_a_sweep_aborts_it_before_the_ramp_down() -> None:
    """A script that starts a sweep by hand and ends: the instrument stops stepping, output off."""
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=realistic_bench()) as smu:
        smu.nplc = 1  # type: ignore[attr-defined]
        smu.current_limit = 0.01
        smu.output_on()
        smu.start_sweep([k / 100 for k in range(100)])
        swept = twin_of(smu.instrument.resource)
    assert swept.sweep is not None and swept.sweep.aborted is not None
    assert swept.sweep.collected < 100
    assert swept.state[(1, "output")] is False and swept.state[(1, "voltage_mode")] == "FIX"
