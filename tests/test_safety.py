"""Never leave an instrument unsafe: right instrument, one owner, checks before output,
truthful and bounded shutdown, subscribers that cannot hold a run hostage."""

from __future__ import annotations

import logging
import pathlib

import pytest
import yaml

from labrun.drivers import Instrument, Keithley2400, WrongInstrument, open_resource, open_sourcemeter
from labrun.experiments.cli import main
from labrun.sim_devices.server import ServedBench

from .support import twin

# ------------------------------------------------------- the right instrument


def test_a_2400_driver_refuses_a_2450_and_says_how_to_override(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(WrongInstrument) as refused:
        open_sourcemeter("keithley2400", "GPIB0::18::INSTR", sim=True)
    message = str(refused.value)
    assert "expected a Keithley 2400 series (2400, 2401, 2410, 2420, 2425, 2430, 2440)" in message
    assert "at GPIB0::18::INSTR" in message
    assert "found 'KEITHLEY INSTRUMENTS,MODEL 2450,04096302,1.7.3b'" in message
    assert "force_model=True (YAML: instrument.force_model: true)" in message
    with open_sourcemeter("keysight_b2901", "GPIB0::23::INSTR", sim=True, force_model=False) as smu:
        assert "B2901A" in smu.identify()
    resource = open_resource("GPIB0::23::INSTR", "@labrun")
    forced = Keithley2400(Instrument(resource))
    with caplog.at_level(logging.WARNING):
        assert "B2901A" in forced.check_identity(force_model=True)
    assert "as a keithley2400 (force_model)" in caplog.text
    resource.close()


def test_every_driver_refuses_every_other_model() -> None:
    addresses = {
        "keithley2400": "GPIB0::24::INSTR",
        "keithley2450": "GPIB0::18::INSTR",
        "keysight_b2901": "GPIB0::23::INSTR",
    }
    for driver in addresses:
        for model, address in addresses.items():
            if model == driver:
                open_sourcemeter(driver, address, sim=True).close()
            else:
                with pytest.raises(WrongInstrument, match="expected a"):
                    open_sourcemeter(driver, address, sim=True)


def test_a_2450_in_tsp_mode_is_refused_with_how_to_switch(tmp_path: pathlib.Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text(
        yaml.safe_dump(
            {"instruments": [{"address": "GPIB0::18::INSTR", "model": "keithley2450", "language": "TSP"}]}
        ),
        encoding="utf-8",
    )
    with pytest.raises(WrongInstrument) as refused:
        open_sourcemeter("keithley2450", "GPIB0::18::INSTR", sim=str(bench))
    assert "uses the TSP command set" in str(refused.value)
    assert "Command Set > SCPI" in str(refused.value) and "*LANG SCPI" in str(refused.value)


def test_the_2450_twin_keeps_its_command_set_over_a_reset() -> None:
    with open_sourcemeter("keithley2450", "GPIB0::18::INSTR", sim=True) as smu:
        smu.instrument.write("*LANG TSP")
        smu.instrument.write("*RST", check=False)
        assert smu.instrument.query("*LANG?") == "TSP"
        smu.instrument.write(":SOUR:VOLT 1", check=False)  # SCPI is not understood in TSP
        assert twin(smu).errors[-1][0] == -113
        smu.instrument.write("*LANG SCPI", check=False)


def test_labrun_run_refuses_the_wrong_model_before_touching_it(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = ServedBench([{"model": "keithley2450"}], port=0).start()
    config = {
        "instrument": {"model": "keithley2400", "address": served.instruments[0].address, "backend": "@py"},
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 3, "compliance": 0.01},
        "save": {"directory": str(tmp_path), "plot": False},
    }
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    try:
        assert main(["run", str(path), "--no-progress"]) == 1
        assert "expected a Keithley 2400 series" in capsys.readouterr().err
        assert not list(tmp_path.glob("*.csv"))
        assert served.instruments[0].twin.log == [b"*IDN?"]  # asked who it is, nothing more
    finally:
        served.stop()
