"""Every model of every family, by table: its identity, its limits in its driver and in its twin.

A variant is one row of data (``drivers/registry.py``, ``specs.Variant``): its driver is
its family's with the row's limits and ranges, its twin its family's answering the row's
``*IDN?`` within the same limits (``sim_devices/limits.py``). The family's own driver
drives the family (a 2400's driver on a 2410); another family's is refused by name.
"""

from __future__ import annotations

import pytest

from labrun.drivers import MODELS, REGISTRY, LimitError, Model, WrongInstrument, open_sourcemeter
from labrun.drivers.registry import model_answering
from labrun.sim_devices import default_bench
from labrun.sim_devices.models import model_definition

from .support import speaks_tsp

VARIANTS = [model for model in REGISTRY if model.identity]
FAMILY_DRIVER = {model.family_name: model.name for model in REGISTRY if not model.family}


def test_each_family_of_the_brief_has_its_variants_as_rows() -> None:
    by_family: dict[str, list[str]] = {}
    for model in REGISTRY:
        by_family.setdefault(model.family_name, []).append(model.name)
    assert by_family["keithley2400"][1:] == [f"keithley{n}" for n in (2401, 2410, 2420, 2425, 2430, 2440)]
    assert by_family["keithley2450"][1:] == ["keithley2460", "keithley2461", "keithley2470"]
    assert by_family["keysight_b2901"][1:] == ["keysight_b2911"]
    assert by_family["keysight_b2902"][1:] == ["keysight_b2912"]
    assert sorted(by_family["keithley2600b"]) == [
        f"keithley26{n}b" for n in ("01", "02", "11", "12", "35", "36")
    ]
    # one channel: 2601B, 2611B, 2635B; two: the others (as the B2902/B2912)
    channels = {name: MODELS[name].channels for name in by_family["keithley2600b"]}
    assert [name for name, n in channels.items() if n == 1] == [
        "keithley2635b",
        "keithley2611b",
        "keithley2601b",
    ]


def test_every_address_of_the_default_bench_is_one_models() -> None:
    addresses = [address for model in REGISTRY for address in model.addresses]
    assert len(addresses) == len(set(addresses)) == len(default_bench())


@pytest.mark.parametrize("model", [model.name for model in REGISTRY])
def test_each_model_answers_its_identity_and_its_driver_takes_it(model: str) -> None:
    entry = next(m for m in REGISTRY if m.name == model)
    with open_sourcemeter(model, entry.addresses[0], sim=True) as smu:
        identity = smu.identify()
    if entry.identity:
        assert identity == entry.identity
    assert model_answering(identity) is entry  # the model found at an address, named


@pytest.mark.parametrize("model", VARIANTS, ids=lambda m: m.name)
def test_a_family_driver_drives_its_variant_and_another_familys_refuses_it(model: Model) -> None:
    family = FAMILY_DRIVER.get(model.family_name)
    address = model.addresses[0]
    if family is not None:  # the 2400's driver on a 2410 is fine
        with open_sourcemeter(family, address, sim=True) as smu:
            assert smu.model == family
    other = "keithley2400" if model.family_name != "keithley2400" else "keithley2450"
    with pytest.raises(WrongInstrument, match=rf"that is a {model.name}: model '{model.name}'") as refused:
        open_sourcemeter(other, address, sim=True)
    assert refused.value.identity == model.identity


@pytest.mark.parametrize("model", [model.name for model in REGISTRY])
def test_each_models_limits_are_its_drivers_and_its_twins_alike(model: str) -> None:
    """Just inside the model's range both take a level; just beyond, the driver refuses it
    before writing and the twin, sent it raw, queues its out-of-range error."""
    driver = MODELS[model]
    limits, address = driver.limits, next(m for m in REGISTRY if m.name == model).addresses[0]
    with open_sourcemeter(model, address, sim=True) as smu:
        smu.set_current_limit(min(limits.max_current_at(limits.max_voltage), 1e-3))
        smu.set_voltage(limits.max_voltage)  # at the top of the envelope, with a small limit
        beyond = limits.max_voltage * 1.001
        with pytest.raises(LimitError, match="outside the allowed"):
            smu.set_voltage(beyond)
        smu.instrument.write(driver.scpi.voltage_level.format(value=beyond), check=False)
        (error,) = smu.instrument.errors()
        assert error.startswith("-222"), error
        smu.set_voltage(0.0)


@pytest.mark.parametrize("model", [model.name for model in REGISTRY])
def test_the_twins_numbers_are_the_drivers_table(model: str) -> None:
    """What the twin takes for the levels, limits, NPLC and source delay is the driver's."""
    driver, tree = MODELS[model], model_definition(model).tree
    limits = driver.limits
    expected = {
        "voltage": (-limits.max_voltage, limits.max_voltage),
        "current": (-limits.max_current, limits.max_current),
        "current_limit": limits.current_limit_range,
        "voltage_limit": limits.voltage_limit_range,
        "current_nplc": driver.setting("nplc").bounds(driver),
        "source_delay": driver.setting("source_delay").bounds(driver),
    }
    if speaks_tsp(driver):
        bounds = {a.key: (a.low, a.high) for a in tree.by_key.values()}  # type: ignore[attr-defined]
    else:
        bounds = {c.setting.key: (c.setting.minimum, c.setting.maximum) for c in tree.commands if c.setting}
    if "source_delay" not in bounds:  # the 2450 keeps one per source function
        bounds["source_delay"] = bounds["voltage_delay"]
    assert {key: bounds[key] for key in expected} == expected
    assert tree.channels == driver.channels


def test_the_cli_lists_the_families_twins_and_refuses_a_mismatch_naming_the_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from labrun.experiments.cli.main import main

    assert main(["resources", "--sim"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"GPIB0::10::INSTR", "GPIB0::26::INSTR"} <= set(listed)  # a 2410, a 2636B
    assert any(name.startswith("USB0::0x05E6::0x2470::04412347::") for name in listed)  # a 2470
    assert main(["measure", "keithley2400", "GPIB0::10::INSTR", "--sim", "--voltage", "0.5"]) == 0  # a 2410
    identity, reading = capsys.readouterr().out.splitlines()
    assert "MODEL 2410" in identity and float(reading.split()[2]) == pytest.approx(0.5, rel=1e-3)
    assert main(["measure", "keithley2400", "GPIB0::18::INSTR", "--sim"]) == 1  # a 2450
    assert "that is a keithley2450: model 'keithley2450'" in capsys.readouterr().err
    assert main(["measure", "keithley2636b", "GPIB0::24::INSTR", "--sim"]) == 1  # a 2400: not TSP
    assert "that is a keithley2400" in capsys.readouterr().err
