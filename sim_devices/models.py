"""What each simulated model is: its twin file, its behaviour, its limits and identity.

Why code and not data for the behaviours: readings are computed from the load and the
state, and each model formats them its own way (the 2400's ``:FORM:ELEM``, the 2450's
reading buffers, the B2900's channel lists, the 2600B's Lua): one module each
(``behaviour_*.py``, ``tsp.py``). Everything else about a model is data: its twin file (a
pyvisa-sim device and the command tree) and its row of the drivers' registry, whose
driver gives the twin its limits (``limits.py``), its channels and, for a variant of a
family, its ``*IDN?`` answer.
"""

from __future__ import annotations

import copy
import functools
import pathlib
from dataclasses import dataclass
from typing import Any

import yaml

from labrun.drivers.registry import MODELS, model_named

from .behaviour_2400 import Keithley2400Twin
from .behaviour_2450 import Keithley2450Twin
from .behaviour_b2900 import KeysightB2900Twin
from .limits import within_of
from .scpi_errors import ERROR_TEXT
from .scpi_tree import CommandTree
from .seam import parse_file
from .sourcemeter_twin import SourceMeterTwin
from .tsp import Keithley2600Twin

ERROR_TEXT.setdefault(803, "Output disabled")  # Keithley 2400 manual, appendix B
ERROR_TEXT.setdefault(-230, "Data corrupt or stale")
ERROR_TEXT.setdefault(-225, "Out of memory")

HERE = pathlib.Path(__file__).parent

#: twin behaviours, by the name a twin data file gives under ``scpi.twin`` (``tsp.twin``)
BEHAVIOURS: dict[str, type[SourceMeterTwin]] = {
    "keithley2400": Keithley2400Twin,
    "keithley2450": Keithley2450Twin,
    "keysight_b2900": KeysightB2900Twin,
    "keithley2600": Keithley2600Twin,
}


@dataclass(frozen=True)
class TwinModel:
    """One model's twin, as every twin of it is built."""

    device: dict[str, Any]  # the pyvisa-sim device of its file (terminations, static answers)
    tree: CommandTree  # its commands, with the driver's limits and channels
    behaviour: type[SourceMeterTwin]
    identity: str | None  # its ``*IDN?`` answer where it is not its file's (a variant's)


@functools.cache
def model_definition(model: str) -> TwinModel:
    """The model's twin, parsed and compiled once."""
    try:
        entry = model_named(model)
    except ValueError:
        raise ValueError(f"no simulated model {model!r}; available: {', '.join(MODELS)}") from None
    path = HERE / f"{entry.twin}.yaml"
    # pyvisa-sim reads its part (all values as text); the tree needs typed YAML. Both read
    # once per file: a family's variants share it (only their limits differ)
    device = copy.deepcopy(_parsed(path)["devices"][entry.twin])
    section = copy.deepcopy(_section(path))
    if section.get("twin") not in BEHAVIOURS:
        raise ValueError(f"{path}: twin {section.get('twin')!r}; twin behaviours: {', '.join(BEHAVIOURS)}")
    behaviour = BEHAVIOURS[section["twin"]]
    try:
        tree = behaviour.compile(section, within_of(entry.driver), entry.driver.channels)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return TwinModel(device, tree, behaviour, entry.identity)


@functools.cache
def _parsed(path: pathlib.Path) -> Any:
    return parse_file(path)


@functools.cache
def _section(path: pathlib.Path) -> dict[str, Any]:
    return twin_section(path)


def twin_section(path: pathlib.Path) -> dict[str, Any]:
    """A twin file's ``scpi`` (or ``tsp``) section; ``extends: OTHER`` takes OTHER's and
    overrides its keys (the B2902 is the B2901's command tree with two channels)."""
    with open(path, encoding="utf-8") as fp:
        data = yaml.safe_load(fp)
    section: dict[str, Any] = data["scpi"] if "scpi" in data else data["tsp"]
    if base := section.pop("extends", None):
        section = {**twin_section(HERE / f"{base}.yaml"), **section}
    return section
