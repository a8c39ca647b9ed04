"""The house: every room imports only the rooms below it, and a point is a named record."""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import labrun
from labrun.experiments import Experiment, Saving, start

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: room -> its folder; listed from the top down: a room may import only rooms after it
ROOMS = [
    ("cli", "experiments/cli"),
    ("panel", "experiments/panel"),
    ("config", "experiments/config"),
    ("views", "experiments/views"),
    ("model", "experiments/model"),
    ("engine", "experiments/engine"),
    ("storage", "experiments/storage"),
    ("analysis", "analysis"),
    ("sim_devices", "sim_devices"),
    ("drivers", "drivers"),
]
MODULE_OF_ROOM = {
    "cli": "labrun.experiments.cli",
    "panel": "labrun.experiments.panel",
    "config": "labrun.experiments.config",
    "views": "labrun.experiments.views",
    "model": "labrun.experiments.model",
    "engine": "labrun.experiments.engine",
    "storage": "labrun.experiments.storage",
    "analysis": "labrun.analysis",
    "sim_devices": "labrun.sim_devices",
    "drivers": "labrun.drivers",
}
#: what a room may import besides the rooms below it (the simulator is a backend the
#: drivers do not know; the CLI serves twins; config builds twins for ``sim: true``)
ALSO_ALLOWED = {"cli": {"sim_devices"}, "config": {"sim_devices"}}
BELOW_DRIVERS = {"sim_devices"}  # the drivers never import the simulator


def room_of_module(name: str) -> str | None:
    for room, module in MODULE_OF_ROOM.items():
        if name == module or name.startswith(module + "."):
            return room
    if name == "labrun.experiments":  # the package's face hands on the model and the engine
        return "model"
    return None


def files_of(folder: str) -> Iterator[pathlib.Path]:
    yield from (ROOT / folder).rglob("*.py")


def imported(path: pathlib.Path) -> Iterator[tuple[int, str]]:
    package = path.relative_to(ROOT).parent.parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's installed package
                parts = list(package[: len(package) - node.level + 1])
                base = ".".join(["labrun", *parts] + ([node.module] if node.module else []))
                yield node.lineno, base
            elif node.module:
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def test_every_room_imports_only_downward() -> None:
    order = [room for room, _ in ROOMS]
    wrong = []
    for room, folder in ROOMS:
        below = set(order[order.index(room) + 1 :]) | ALSO_ALLOWED.get(room, set()) | {room}
        if room == "drivers":
            below -= BELOW_DRIVERS
        for path in files_of(folder):
            for line, name in imported(path):
                target = room_of_module(name)
                if target is not None and target not in below:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} ({room}) imports {name} ({target})")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_an_upward_import(tmp_path: pathlib.Path) -> None:
    """The layer test can fail: an engine module importing the model is caught."""
    bad = ROOT / "experiments" / "engine" / "_upward_probe.py"
    bad.write_text("from labrun.experiments.model.iv_sweep import IVSweep\n")
    try:
        with pytest.raises(AssertionError, match=r"_upward_probe.py:1 \(engine\) imports"):
            test_every_room_imports_only_downward()
    finally:
        bad.unlink()


def test_labrun_has_a_version() -> None:
    assert labrun.__version__ not in ("", "unknown")
    assert labrun.__version__[0].isdigit()


class _Named(Experiment):
    name = "named"
    columns: Mapping[str, str] = {"step": "", "current": "A"}

    def __init__(self, points: list[dict[str, Any]], save: Saving | None = None) -> None:
        super().__init__(save=save)
        self.points = points

    def total_steps(self) -> int:
        return len(self.points)

    def steps(self) -> Iterator[dict[str, Any]]:
        yield from self.points


def test_a_point_is_a_named_record_in_any_field_order(tmp_path: pathlib.Path) -> None:
    run = start(_Named([{"current": 1e-3, "step": 0}, {"step": 1, "current": 2e-3}], Saving(str(tmp_path))))
    data = run.result(5)
    assert data["step"].tolist() == [0, 1]
    assert data["current"].tolist() == [1e-3, 2e-3]
    (path,) = tmp_path.glob("*.csv")
    lines = path.read_text().splitlines()
    assert lines[-3:-1] == ["0,0.001", "1,0.002"] and lines[-1].startswith('# end: {"status": "completed"')


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"step": 1}, "without 'current'"),
        ({"step": 1, "current": 0.0, "volts": 2.0}, r"unknown fields \['volts'\]"),
    ],
)
def test_a_point_with_a_missing_or_unknown_field_fails_the_run_and_keeps_the_rest(
    tmp_path: pathlib.Path, point: dict[str, Any], message: str
) -> None:
    run = start(_Named([{"step": 0, "current": 1.0}, point], Saving(str(tmp_path))))
    with pytest.raises(ValueError, match=message):
        run.result(5)
    assert run.progress.state == "failed"
    assert run.data["current"].tolist() == [1.0]
    (path,) = tmp_path.glob("*.csv")
    lines = path.read_text().splitlines()
    assert lines[-2] == "0,1.0" and lines[-1].startswith('# end: {"status": "failed"')
