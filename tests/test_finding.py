"""Which model answers at an address (issue 32, item 5): ``labrun resources`` names each,
``labrun check --probe`` asks a config's real instruments and refuses another model."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from labrun.drivers import REGISTRY, identify_at
from labrun.experiments.cli.main import main
from labrun.sim_devices.server import ServedBench


def test_labrun_resources_names_the_model_at_every_address_of_the_simulated_bench(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["resources", "--sim"]) == 0
    listed = dict(line.split("  ")[:2] for line in capsys.readouterr().out.splitlines())
    for model in REGISTRY:
        for address in model.addresses:
            assert address in listed or address.replace("::INSTR", "::0::INSTR") in listed
            named = listed.get(address) or listed[address.replace("::INSTR", "::0::INSTR")]
            assert named == model.name, (address, named)


def test_an_instrument_in_use_is_not_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("LABRUN_LOCK_DIR", str(tmp_path))
    with ServedBench([{"model": "keithley2410"}], port=0) as served:
        address = served.instruments[0].address
        assert identify_at(address, "@py").model.name == "keithley2410"  # type: ignore[union-attr]
        from labrun.drivers import device_lock_for

        lock = device_lock_for(address, simulated=False)
        lock.acquire("a run elsewhere")
        try:
            busy = identify_at(address, "@py")
        finally:
            lock.release()
        assert busy.identity == "" and "in use by a run elsewhere" in busy.why_not


@pytest.mark.parametrize(("model", "status"), [("keithley2400", 0), ("keithley2410", 0), ("keithley2450", 1)])
def test_check_probe_takes_a_variant_and_refuses_another_family(
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: str,
    status: int,
) -> None:
    monkeypatch.setenv("LABRUN_LOCK_DIR", str(tmp_path / "locks"))
    with ServedBench([{"model": "keithley2410"}], port=0) as served:
        config = {
            "instrument": {"model": model, "address": served.instruments[0].address, "backend": "@py"},
            "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 3, "compliance": 0.01},
            "save": {"directory": str(tmp_path)},
        }
        path = tmp_path / "probe.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        assert main(["check", str(path), "--probe"]) == status
    out, err = capsys.readouterr()
    if status:
        assert "answers keithley2410" in err and "not a keithley2450" in err
    else:
        assert (
            "keithley2410 (KEITHLEY INSTRUMENTS INC.,MODEL 2410" in out
            and f"the {model} driver takes it" in out
        )
