"""The 2600B through labrun's normal path: configs run by ``labrun run`` on a simulated 2636B.

An IV sweep (stepped and on the instrument, its settings applied through the driver's
table, each reading's resistance), the station example with a transistor between the
2636B's channels (gate on smub, drain on smua), and a served 2636B reached over TCP.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from labrun.experiments import load_data
from labrun.experiments.cli.main import main
from labrun.experiments.config import load_config
from labrun.experiments.config.launch import open_instrument

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "configs"


def iv_config(tmp_path: pathlib.Path, **instrument: Any) -> pathlib.Path:
    config = {
        "instrument": {
            "model": "keithley2636b",
            "address": "GPIB0::26::INSTR",
            "sim": True,
            "nplc": 0.1,
            "sense": "4-wire",
            "source_range": "auto",
            "measure_range": "10 mA",
            "averaging": {"type": "moving", "count": 4},
            "autozero": False,
            "source_delay": "1 ms",
            "output_off_state": "zero",
            "measure_resistance": True,
            **instrument,
        },
        "experiment": {
            "type": "iv_sweep",
            "start": "-1 V",
            "stop": "1 V",
            "num_points": 11,
            "delay": "0 s",
            "compliance": "10 mA",
        },
        "save": {"directory": str(tmp_path / "data"), "plot": False},
    }
    path = tmp_path / "iv_2636b.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize("sweep", ["stepped", "hardware"])
def test_an_iv_config_on_a_simulated_2636b_runs_through_labrun_run(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], sweep: str
) -> None:
    path = iv_config(tmp_path)
    assert main(["check", str(path)]) == 0
    assert "simulated keithley2636b at GPIB0::26::INSTR" in capsys.readouterr().out
    out = tmp_path / sweep
    assert (
        main(["run", str(path), "--out", str(out), "--no-progress", f"--set=experiment.sweep={sweep}"]) == 0
    )
    (data_file,) = out.glob("*.csv")
    data = load_data(data_file)
    levels = [-1.0 + 0.2 * k for k in range(11)]
    assert data["source"].tolist() == pytest.approx(levels)
    assert data["current"] == pytest.approx([v / 1000 for v in levels], rel=2e-3, abs=1e-8)  # 1 kOhm
    nonzero = [r for r, v in zip(data["resistance"], levels, strict=True) if abs(v) > 0.1]
    assert nonzero == pytest.approx([1000.0] * len(nonzero), rel=2e-3)
    assert data.metadata["instrument"]["model"] == "keithley2636b"


def test_the_configs_settings_are_applied_through_the_2600bs_table(tmp_path: pathlib.Path) -> None:
    """What ``labrun run`` opens: each setting written in TSP, confirmed, and read back."""
    config = load_config(iv_config(tmp_path)).instrument
    with open_instrument(config, "voltage") as smu:
        settings = smu.snapshot()["settings"]
    assert (settings["nplc"], settings["remote_sense"], settings["averaging_type"]) == (0.1, True, "moving")
    assert (settings["autozero"], settings["source_delay"], settings["output_off_state"]) == (
        False,
        0.001,
        "zero",
    )
    assert settings["current_measure_range"] == 0.01 and settings["voltage_source_autorange"] is True
    assert settings["measure_resistance"] is True and settings["averaging_count"] == 4


def test_a_config_refuses_what_the_2600b_has_not_before_opening_it(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = iv_config(tmp_path, offset_compensation=True)
    assert main(["run", str(path)]) == 2
    assert (
        "instrument.offset_compensation = True: the keithley2636b has no offset compensation"
        in capsys.readouterr().err
    )
    path = iv_config(tmp_path, nplc=30)  # 0.001 .. 25 on the 2600B
    assert main(["run", str(path)]) == 2
    assert "nplc 30 PLC is outside the allowed 0.001 .. 25 PLC" in capsys.readouterr().err


def test_the_fet_output_curve_on_a_2636b_gate_on_smub_drain_on_smua(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = CONFIGS / "fet_output_2636b.yaml"
    assert main(["check", str(config)]) == 0
    plan = capsys.readouterr().out
    assert "gate: simulated keithley2636b at GPIB0::26::INSTR channel 2" in plan
    assert "drain: simulated keithley2636b at GPIB0::26::INSTR channel 1" in plan
    assert main(["run", str(config), "--out", str(tmp_path), "--no-progress"]) == 0
    (data_file,) = tmp_path.glob("*.csv")
    data = load_data(data_file)
    assert len(data["drain_current"]) == 4 * 26
    last = data["drain_index"] == 25  # 5 V on the drain: saturation, k (Vgs - Vt)^2 (1 + lambda Vds)
    for gate, current in zip(data["gate_voltage"][last], data["drain_current"][last], strict=True):
        assert current == pytest.approx(1e-3 * (gate - 1.0) ** 2 * (1 + 0.02 * 5.0), rel=2e-2)
    models = {instrument["model"] for instrument in data.metadata["instruments"]}
    assert models == {"keithley2636b"}


def test_an_iv_config_on_a_served_2636b(tmp_path: pathlib.Path) -> None:
    from labrun.sim_devices.server import ServedBench

    with ServedBench([{"address": "GPIB0::26::INSTR", "model": "keithley2636b"}], port=0) as bench:
        address = bench.instruments[0].address
        path = iv_config(tmp_path, sim=False, address=address, backend="@py", measure_resistance=False)
        assert main(["run", str(path), "--out", str(tmp_path / "served"), "--no-progress"]) == 0
        assert bench.instruments[0].status()["channels"][0]["output"] is False  # left off
    (data_file,) = (tmp_path / "served").glob("*.csv")
    assert load_data(data_file)["current"][-1] == pytest.approx(1e-3, rel=2e-3)
