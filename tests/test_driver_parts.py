"""A source-meter driver is made of parts with interfaces of their own: the table of
settings (which the config checks and applies through), the channels, the safe end, the
at-exit registry; and the drivers' modules import one another without a circle."""

from __future__ import annotations

import ast
import dataclasses
import json
import pathlib
from types import TracebackType
from typing import Any

import pint
import pytest

from labrun.drivers import MODELS, REGISTRY, LimitError, SourceMeter, model_named, open_sourcemeter
from labrun.drivers import at_exit as registry
from labrun.drivers.settings import Range, ReadOnly
from labrun.experiments.config import load_config
from labrun.experiments.config.launch import apply_settings
from labrun.sim_devices.backend import twin_of

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE_STATE = ("mode", "level", "current_limit", "voltage_limit", "output_enabled", "measure_resistance")


@pytest.mark.parametrize("model", [model.name for model in REGISTRY])
def test_the_table_lists_each_setting_as_an_object_that_says_what_it_allows(model: str) -> None:
    driver = MODELS[model]
    table = driver.setting_table()
    assert set(SOURCE_STATE) <= set(table) and {"nplc", "remote_sense", "line_frequency"} <= set(table)
    assert driver.settings() == sorted(table) and model_named(model).setting_table() == table
    units: pint.UnitRegistry[Any] = pint.UnitRegistry()
    for name, setting in table.items():
        assert driver.setting(name) is setting and setting.name == name
        info = setting.describe(driver)
        assert info.name == name and info.doc, name
        units.Quantity(1.0, info.unit)  # pint reads it ("" is a pure number)
        json.dumps(dataclasses.asdict(info), allow_nan=False)
        assert info.writable is not isinstance(setting, ReadOnly) and info.readable
        if isinstance(setting, Range):  # the model's own table
            assert (info.low, info.high) == getattr(driver.ranges, setting.table)
    assert table["mode"].describe(driver).choices == ("voltage", "current")
    assert table["current_limit"].describe(driver).high == driver.limits.current_limit_range[1]
    with pytest.raises(AttributeError, match=r"has no setting 'current_limt'; settings: .*current_limit"):
        driver.setting("current_limt")


def test_a_config_applies_through_the_table_of_the_driver_at_hand(tmp_path: pathlib.Path) -> None:
    """Channel 2's table speaks to channel 2: the same config keys, its own commands."""
    path = tmp_path / "b2902.yaml"
    path.write_text(
        "instrument: {model: keysight_b2902, address: 'GPIB0::22::INSTR', sim: true, nplc: 3,"
        " sense: 4-wire, output_off_state: high_impedance}\n"
        "experiment: {type: iv_sweep, start: 0, stop: 1, num_points: 3, compliance: 0.01}\n",
        encoding="utf-8",
    )
    config = load_config(path).instrument
    with open_sourcemeter("keysight_b2902", "GPIB0::22::INSTR", sim=True) as b2902:
        state = twin_of(b2902.instrument.resource).state
        apply_settings(b2902.channel(2), config, "voltage")
        assert (state[(2, "current_nplc")], state[(2, "remote_sense")], state[(2, "output_off_state")]) == (
            3.0,
            True,
            "HIZ",
        )
        assert state[(1, "current_nplc")] != 3.0 and state[(1, "remote_sense")] is False


def test_the_source_state_in_the_table_writes_through_the_checked_methods() -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        table = smu.setting_table()
        table["current_limit"].write(smu, 0.02)
        table["level"].write(smu, 1.5)
        assert (smu.current_limit, smu.level) == (0.02, 1.5)
        assert table["level"].read(smu) == pytest.approx(1.5)
        with pytest.raises(LimitError, match="outside the allowed"):
            table["level"].write(smu, 1000.0)
        with pytest.raises(LimitError, match="mode: 'resistance'; allowed: 'voltage', 'current'"):
            table["mode"].allowed_for(type(smu), "resistance")


class Left:
    """Not a driver: anything with what the at-exit registry asks of one."""

    def __init__(self, name: str, *, keep_output: bool) -> None:
        self.name, self.keep_output = name, keep_output
        self.output_enabled, self.level = True, 1.0
        self.exits: list[BaseException | None] = []

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.exits.append(exc)


def test_the_at_exit_registry_needs_only_its_protocol(caplog: pytest.LogCaptureFixture) -> None:
    ending, kept = Left("ending", keep_output=False), Left("kept", keep_output=True)
    registry.open_drivers.add(ending)
    registry.open_drivers.add(kept)
    try:
        registry.shut_down_open_instruments()
    finally:
        registry.open_drivers.discard(ending)
        registry.open_drivers.discard(kept)
    assert ending.exits == [None] and kept.exits == []
    assert "kept: left with its output ON at 1 (keep_output=True)" in caplog.text
    assert "ending: output ramped down and turned off at exit" in caplog.text


def test_closing_the_opener_ends_every_channel_last_to_first() -> None:
    b2902 = open_sourcemeter("keysight_b2902", "GPIB0::22::INSTR", sim=True)
    second = b2902.channel(2)
    for driver in (b2902, second):
        driver.set_current_limit(0.01)
        driver.set_voltage(1.0)
        driver.output_on()
    log = twin_of(b2902.instrument.resource).log
    before = len(log)
    b2902.__exit__(None, None, None)
    offs = [message for message in log[before:] if message.startswith((b":OUTP OFF", b":OUTP2 OFF"))]
    assert offs == [b":OUTP2 OFF;:SYST:ERR:COUN?", b":OUTP OFF;:SYST:ERR:COUN?"]
    assert not second.output_enabled and not b2902.output_enabled
    assert b2902 not in registry.open_drivers and second not in registry.open_drivers


def imports_of(path: pathlib.Path) -> set[str]:
    """The drivers' modules ``path`` imports (``from .x import``, ``from . import x``), at
    any depth of the file: an import in a function or under TYPE_CHECKING counts too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def circle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports in ``graph`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> list[str] | None:
        if module in trail:
            return [*trail[trail.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, set())):
            if found := visit(imported, [*trail, module]):
                return found
        done.add(module)
        return None

    return next((found for module in sorted(graph) if (found := visit(module, []))), None)


def test_the_drivers_modules_import_one_another_without_a_circle() -> None:
    folder = ROOT / "drivers"
    graph = {path.stem: imports_of(path) for path in folder.glob("*.py")}
    assert circle_in(graph) is None
    for path in folder.glob("*.py"):  # no imports only a type checker sees, no declarations for it
        assert "TYPE_CHECKING:" not in path.read_text(encoding="utf-8").replace("not TYPE_CHECKING:", ""), (
            path
        )
    assert {"channels", "safe_end", "sweeps", "source"} <= graph["sourcemeter"]  # its parts, its core


def test_the_circle_check_sees_a_circle(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.py").write_text("from .b import B\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("def f():\n    from . import a\n", encoding="utf-8")
    graph = {path.stem: imports_of(path) for path in tmp_path.glob("*.py")}
    assert graph == {"a": {"b"}, "b": {"a"}} and circle_in(graph) == ["a", "b", "a"]
    assert circle_in({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_each_model_is_a_source_meter() -> None:
    assert all(issubclass(model.driver, SourceMeter) for model in REGISTRY)
