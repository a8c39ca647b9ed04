"""The command line talks clearly: advice in its own words, logs above the bar, -v focused,
units as in YAML, and a missing VISA library explained."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from labrun.drivers import ConnectionFailed, open_sourcemeter
from labrun.experiments import IVSweep
from labrun.experiments.cli.main import main
from labrun.experiments.model.time_trace import TimeTrace

INTO_COMPLIANCE = {
    "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
    "experiment": {
        "type": "iv_sweep",
        "start": "0 V",
        "stop": "2 V",
        "num_points": 30,
        "delay": "5 ms",
        "compliance": "1 mA",
    },
    "save": {"directory": "data", "plot": False},
}


def run_cli(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(INTO_COMPLIANCE), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "labrun.experiments.cli",
            *args[:-1],
            "run",
            str(path),
            "--out",
            str(tmp_path),
            args[-1],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


def test_a_yaml_user_is_told_the_yaml_key_and_the_warning_sits_above_the_bar(tmp_path: pathlib.Path) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(INTO_COMPLIANCE), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "labrun.experiments.cli",
            "run",
            str(tmp_path / "c.yaml"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.split("\n") if "reading at the current limit" in line]
    assert warning, done.stderr
    assert "raise experiment.compliance in the config" in warning[0]
    assert "set_current_limit" not in done.stderr
    assert warning[0].rsplit("\r", 1)[-1].startswith("WARNING")  # on a line of its own, not in the bar


def test_verbose_shows_labruns_and_pyvisas_traffic_only(tmp_path: pathlib.Path) -> None:
    done = run_cli(tmp_path, "-v", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "-> *IDN?" in done.stderr  # labrun's VISA traffic
    assert "Created ResourceManager" in done.stderr  # pyvisa's
    assert "font" not in done.stderr.lower() and "matplotlib" not in done.stderr


def test_the_api_and_labrun_measure_take_unit_strings_as_yaml_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start="-1 V", stop="1000 mV", num_points=3, delay="1 ms", compliance="10 mA")
        assert (sweep.start, sweep.stop_level, sweep.delay, sweep.compliance) == (-1.0, 1.0, 0.001, 0.01)
        trace = TimeTrace(smu, level="2 mA", mode="current", num_points=2, interval="10 ms", compliance="5 V")
        assert (trace.level, trace.interval, trace.compliance) == (0.002, 0.01, 5.0)
        with pytest.raises(ValueError, match="compliance = '10 V': in voltage mode, compliance must be in A"):
            IVSweep(smu, start=0, stop=1, num_points=3, compliance="10 V")
    assert (
        main(
            [
                "measure",
                "keithley2400",
                "GPIB0::24::INSTR",
                "--sim",
                "--voltage",
                "500 mV",
                "--compliance",
                "10 mA",
            ]
        )
        == 0
    )
    voltage = float(capsys.readouterr().out.split("V = ")[1].split()[0])
    assert voltage == pytest.approx(0.5, rel=1e-3)  # the twin's readings carry noise


def test_no_visa_library_names_the_choices() -> None:
    with pytest.raises(ConnectionFailed) as missing:
        open_sourcemeter("keithley2400", "GPIB0::24::INSTR", backend="@ivi")  # no vendor VISA here
    message = str(missing.value)
    assert "cannot load the VISA library '@ivi'" in message
    assert "pip install pyvisa-py" in message and "sim: true" in message and "--sim" in message


def test_labrun_version_is_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"labrun {version('labrun')}"
