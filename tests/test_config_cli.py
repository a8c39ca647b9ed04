"""YAML configs and the labrun command line, end to end on simulated instruments."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import yaml

from labrun.experiments import load_data
from labrun.experiments.cli.main import main
from labrun.experiments.config import ConfigError, IVSweepConfig, load_config
from labrun.experiments.config.launch import build_experiment, open_instrument
from labrun.sim_devices import backend

from .support import in_measuring_thread

CONFIGS = pathlib.Path(__file__).parent.parent / "experiments" / "configs"
#: the one-instrument examples (the station ones, fet_*, are run in test_fet)
EXAMPLES = sorted(p for p in CONFIGS.glob("*.yaml") if "\nstation:" not in p.read_text())

GOOD = {
    "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
    "experiment": {
        "type": "iv_sweep",
        "start": "-1 V",
        "stop": "1 V",
        "num_points": 5,
        "delay": "1 ms",
        "compliance": "10 mA",
    },
    "save": {"directory": "data", "plot": False},
}


def write(tmp: pathlib.Path, config: object, name: str = "config.yaml") -> pathlib.Path:
    path = tmp / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config), encoding="utf-8")
    return path


def changed(**edits: object) -> dict[str, object]:
    """GOOD with ``section__key=value`` edits (value None deletes the key)."""
    config: dict[str, Any] = yaml.safe_load(yaml.safe_dump(GOOD))
    for dotted, value in edits.items():
        section, key = dotted.split("__")
        if value is None:
            config[section].pop(key)
        else:
            config[section][key] = value
    return config


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_each_example_config_runs_and_follows_its_load(
    example: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(example), "--out", str(tmp_path), "--no-progress"]) == 0
    csvs, pngs = list(tmp_path.glob("*.csv")), list(tmp_path.glob("*.png"))
    assert len(csvs) == 1 and len(pngs) == 1
    assert pngs[0].read_bytes().startswith(b"\x89PNG")
    data = load_data(csvs[0])
    config = load_config(example)
    assert len(data) == config.experiment.readings
    load, i = config.instrument.load, data["current"]
    limit = config.experiment.compliance
    if config.experiment.type == "time_trace":  # level / R plus the configured hum
        hum = config.instrument.hum.amplitude if config.instrument.hum else 0.0
        assert np.abs(i - config.experiment.level / load.resistance).max() <= 1.01 * hum + 1e-6
        assert np.ptp(i) > hum  # the hum is there to be found
    elif config.experiment.mode == "current":  # the voltage follows the load, up to compliance
        expected_v = np.minimum(data["source"] * load.resistance, limit)
        assert data["voltage"] == pytest.approx(expected_v, rel=2e-3, abs=1e-5)
    elif load.type == "resistor":
        assert i == pytest.approx(data["source"] / load.resistance, rel=2e-3, abs=1e-9)
    else:  # diode, below compliance: Shockley with the configured parameters
        vt = load.ideality * 8.617333262e-5 * load.temperature
        below = np.abs(i) < 0.99 * limit
        expected = load.saturation_current * np.expm1(data["source"][below] / vt)
        assert i[below] == pytest.approx(expected, rel=2e-3, abs=1e-9)
    assert data.metadata["config"]["instrument"]["model"] == config.instrument.model
    assert "MODEL" in data.metadata["identity"] or "B2901A" in data.metadata["identity"]
    out = capsys.readouterr().out
    assert str(csvs[0]) in out and str(pngs[0]) in out


def test_check_prints_the_plan_and_opens_nothing(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = backend.twins_built
    assert main(["check", str(write(tmp_path, GOOD))]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "5 linear points" in out and "duration" in out
    assert backend.twins_built == before


BAD = [
    ("missing file", None, "no such config file"),
    ("yaml syntax", "instrument: [unclosed\n", "not valid YAML"),
    ("unsafe tag", "instrument: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("not a mapping", "- just\n- a list\n", "expected a mapping"),
    (
        "unknown key",
        changed(experiment__colour="red"),
        "experiment.colour.*unknown key; allowed here: type, mode",
    ),
    ("wrong type", changed(experiment__num_points="many"), "experiment.num_points = 'many'.*valid integer"),
    ("wrong unit", changed(experiment__delay="2 V"), "experiment.delay = '2 V'.*a time in s.*a voltage"),
    ("unit for mode", changed(experiment__start="1 mA"), "experiment.start.*must be in V"),
    ("out of range", changed(experiment__stop="300 V"), "experiment.stop = '300 V'.*0 .. 210 V"),
    ("compliance range", changed(experiment__compliance="2 A"), "experiment.compliance.*1e-09 .. 1.05 A"),
    ("start equals stop", changed(experiment__stop="-1 V"), "experiment.stop.*stop equals start"),
    ("negative delay", changed(experiment__delay="-5 ms"), "experiment.delay.*greater than or equal to 0"),
    ("missing field", changed(experiment__num_points=None), "experiment.num_points: missing"),
    ("bad model", changed(instrument__model="k2400"), "instrument.model = 'k2400'.*keithley2400"),
    ("bad address", changed(instrument__address="COM3"), "instrument.address = 'COM3'.*not a VISA resource"),
    (
        "user limit",
        {**changed(), "instrument": {**GOOD["instrument"], "limits": {"max_voltage": "0.5 V"}}},
        "your configured limit",
    ),
    ("bad directory", changed(save__directory="/nonexistent/a/b"), "save.directory.*does not exist"),
    (
        "write interval",
        changed(save__write_interval="2 s"),
        "save.write_interval = '2 s'.*less than or equal to 1",
    ),
]


@pytest.mark.parametrize(("case", "config", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_configs_exit_2_with_a_clear_message_and_touch_nothing(
    case: str, config: object, message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "absent.yaml" if config is None else write(tmp_path, config)
    before = backend.twins_built
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert re.search(message, err), err
    assert backend.twins_built == before  # no instrument was opened


def test_a_config_may_write_every_row_at_once_whatever_the_pace(tmp_path: pathlib.Path) -> None:
    config = load_config(write(tmp_path, changed(save__write_interval="0 ms", save__directory=str(tmp_path))))
    assert config.save.write_interval == 0.0
    with open_instrument(config.instrument, config.experiment.mode) as smu:
        sweep = build_experiment(config, smu)
        assert sweep.save is not None and sweep.save.write_interval == 0.0
        rows_on_disk: list[int] = []

        def count(point: dict[str, float]) -> None:  # in the measuring thread, after each point
            assert sweep.data_file is not None
            rows_on_disk.append(len(load_data(sweep.data_file.path)))

        in_measuring_thread(sweep, count)
        sweep.run()
    assert rows_on_disk == list(range(1, len(rows_on_disk) + 1))  # each row there before the next point
    assert load_config(write(tmp_path, GOOD)).save.write_interval == 0.001  # the default: batched bursts


def test_out_and_sim_override_the_file(tmp_path: pathlib.Path) -> None:
    config = changed(instrument__sim=False, save__directory="/nonexistent/a/b")
    path = write(tmp_path, config)
    with pytest.raises(ConfigError):
        load_config(path)
    loaded = load_config(path, out=str(tmp_path / "out"), sim=True)
    assert loaded.instrument.sim and loaded.save.directory == str(tmp_path / "out")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--sim", "--no-progress"]) == 0
    assert len(list((tmp_path / "out").glob("*.csv"))) == 1


def test_a_serial_instrument_with_its_termination_and_baud_rate_runs_from_a_config(
    tmp_path: pathlib.Path,
) -> None:
    config = changed(
        instrument__address="ASRL3::INSTR", instrument__termination="CR", instrument__baud_rate=19200
    )
    loaded = load_config(write(tmp_path, config))
    assert loaded.instrument.end_of_message == "\r" and loaded.instrument.baud_rate == 19200
    assert main(["run", str(write(tmp_path, config)), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    data = load_data(next((tmp_path / "out").glob("*.csv")))
    assert data["source"].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert data["current"] == pytest.approx([-1e-3, -5e-4, 0.0, 5e-4, 1e-3], abs=1e-6)  # 1 kOhm
    # a config written for the real serial instrument runs on its twin with --sim
    config["instrument"]["sim"] = False  # type: ignore[index]
    config["instrument"]["backend"] = "@py"  # type: ignore[index]
    path = write(tmp_path, config, "real.yaml")
    assert main(["run", str(path), "--sim", "--out", str(tmp_path / "sim"), "--no-progress"]) == 0
    assert load_data(next((tmp_path / "sim").glob("*.csv")))["source"].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_units_are_converted_to_si(tmp_path: pathlib.Path) -> None:
    config = changed(experiment__start="-500 mV", experiment__delay="100 ms", experiment__compliance=0.02)
    config["instrument"]["load"] = {"type": "resistor", "resistance": "1 kOhm"}  # type: ignore[index]
    loaded = load_config(write(tmp_path, config))
    assert isinstance(loaded.experiment, IVSweepConfig)
    assert loaded.experiment.start == pytest.approx(-0.5)
    assert loaded.experiment.delay == pytest.approx(0.1)
    assert loaded.experiment.compliance == pytest.approx(0.02)
    assert loaded.instrument.load.resistance == pytest.approx(1000.0)


def test_labrun_run_as_a_real_process(tmp_path: pathlib.Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "labrun.experiments.cli", "run", str(EXAMPLES[0]), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "data:" in result.stdout and "plot:" in result.stdout
    assert len(list(tmp_path.glob("*.csv"))) == 1


def test_resources_lists_the_simulated_bench(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resources", "--sim"]) == 0
    assert "GPIB0::24::INSTR" in capsys.readouterr().out


def test_the_models_are_declared_once_and_everything_else_derives_from_them(tmp_path: pathlib.Path) -> None:
    """drivers.REGISTRY is the list: the config, the CLI, the simulator and the tests follow it."""
    from labrun.drivers import MODELS, REGISTRY, model_named
    from labrun.experiments.cli.main import parser
    from labrun.sim_devices import default_bench

    from .support import BENCH

    bench_models = {entry["model"] for entry in default_bench().values()}
    for model in MODELS:
        assert model in bench_models, f"{model}: not on the default simulated bench"
        assert load_config(write(tmp_path, changed(instrument__model=model))).instrument.model == model
        assert parser().parse_args(["measure", model, "GPIB0::1::INSTR"]).model == model
    # the tests run every family's driver on a bench address of its own (its variants by table)
    assert {model_named(model).family_name for model in BENCH} == {model.family_name for model in REGISTRY}
    allowed = ", ".join(sorted(MODELS))
    with pytest.raises(
        ConfigError,
        match=rf"instrument.model = 'keithley9999': not a model labrun drives; allowed: {allowed}",
    ):
        load_config(write(tmp_path, changed(instrument__model="keithley9999")))
    with pytest.raises(SystemExit):
        parser().parse_args(["measure", "keithley9999", "GPIB0::1::INSTR"])


def test_adding_a_model_of_a_family_is_one_spec_entry(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Keithley 2400-LV (the 2400's 21 V sibling): one row of data, its family's driver and
    twin file; the config, the CLI, the default bench, the driver factory and its twin (its
    identity, its limits) know it at once."""
    from labrun.drivers import (
        Keithley2400,
        LimitError,
        Limits,
        Ranges,
        Variant,
        open_sourcemeter,
        register,
        unregister,
    )
    from labrun.drivers.registry import family
    from labrun.experiments.cli.main import main, parser
    from labrun.sim_devices import default_bench

    identity = "KEITHLEY INSTRUMENTS INC.,MODEL 2400-LV,4100001,C32   Oct  4 2010 14:20:11/A02  /S/K"
    (model,) = family(
        Keithley2400,
        "keithley2400",
        [
            Variant(
                "keithley2400lv",
                identity,
                Limits(21.0, 1.05, (1e-9, 1.05), (2e-4, 21.0), ((21.0, 1.05),)),
                Ranges((0.2, 21.0), (1e-6, 1.05), (0.2, 21.0), (1e-6, 1.05)),
                ("GPIB0::7::INSTR",),
            )
        ],
    )
    register(model)
    try:
        assert load_config(write(tmp_path, changed(instrument__model="keithley2400lv"))).instrument.model == (
            "keithley2400lv"
        )
        assert parser().parse_args(["measure", "keithley2400lv", "GPIB0::7::INSTR"]).model == "keithley2400lv"
        assert default_bench()["GPIB0::7::INSTR"]["model"] == "keithley2400lv"
        with open_sourcemeter("keithley2400lv", "GPIB0::7::INSTR", sim=True) as smu:
            assert isinstance(smu, Keithley2400) and smu.identify() == identity
            with pytest.raises(LimitError, match=r"outside the allowed -21 \.\. 21 V"):
                smu.set_voltage(30.0)
            smu.instrument.write(":SOUR:VOLT 30", check=False)  # the twin's limit is the driver's
            assert smu.instrument.errors() == ['-222,"Data out of range"']
            smu.set_current_limit(0.01)
            smu.set_voltage(1.0)
            smu.output_on()
            assert smu.measure().current == pytest.approx(1e-3, rel=0.01)  # the bench's 1 kOhm
            smu.shutdown()
        assert main(["measure", "keithley2400lv", "GPIB0::7::INSTR", "--sim", "--voltage", "0.5"]) == 0
        volts = float(capsys.readouterr().out.split("V = ")[1].split()[0])
        assert volts == pytest.approx(0.5, rel=1e-3)
    finally:
        unregister("keithley2400lv")
    assert all(entry["model"] != "keithley2400lv" for entry in default_bench().values())
