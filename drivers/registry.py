"""Every supported model, declared once: one line per model, or one per family.

A model's driver class carries its identity pattern, its limits and its settings; its
simulated twin is a data file in ``sim_devices/`` (the command tree from the manual and
the name of the twin behaviour that computes its readings). A family's other models are
rows of a table (:class:`~.specs.Variant`: name, ``*IDN?`` answer, limits, ranges,
addresses) next to the family's driver; their driver classes are derived from the
family's, their twins are the family's twin with their identity and limits. Everything
else derives from this table: the models a config accepts, the CLI's help, the
simulator's default bench, and the tests' parametrisation. Adding a model: its driver
file, its twin data file, and one line here; adding a variant: one row of its family's
table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .keithley2400 import KEITHLEY_2400_VARIANTS, Keithley2400
from .keithley2450 import KEITHLEY_2450_VARIANTS, Keithley2450
from .keithley2600 import KEITHLEY_2600B, Keithley2600
from .keysight_b2900 import B2901_VARIANTS, B2902_VARIANTS, KeysightB2901, KeysightB2902
from .settings import Setting
from .sourcemeter import SourceMeter
from .specs import Variant


@dataclass(frozen=True)
class Model:
    """One supported instrument model."""

    name: str  # as configs, scripts and bench files name it
    driver: type[SourceMeter]
    twin: str  # its twin's data file: sim_devices/<twin>.yaml
    #: where the default simulated bench (``ResourceManager("@labrun")``) puts its twins
    addresses: tuple[str, ...]
    #: what its twin answers to ``*IDN?``; None: its twin file's answer
    identity: str | None = None
    #: the family it belongs to (its drivers share one class); "": a family of its own
    family: str = ""

    def setting_table(self) -> dict[str, Setting]:
        """The model's settings, by name (its driver's table: see ``SourceMeter.setting_table``)."""
        return self.driver.setting_table()

    @property
    def family_name(self) -> str:
        return self.family or self.name


def variant_driver(family: type[SourceMeter], variant: Variant) -> type[SourceMeter]:
    """The family's driver with the variant's data: its model name, limits, ranges, channels,
    and an identity pattern that accepts the variant's own model (its ``*IDN?`` model field)."""
    model_field = variant.identity.split(",")[1].strip()
    namespace = {
        "model": variant.name,
        "identity_pattern": rf"{re.escape(model_field)}\b",
        "series": "",
        "limits": variant.limits,
        "ranges": variant.ranges,
        "channels": variant.channels or family.channels,
        "__doc__": f"{model_field}: the {family.series or family.model} driver with its datasheet's data.",
        "__module__": family.__module__,
    }
    class_name = "".join(part[:1].upper() + part[1:] for part in variant.name.split("_"))
    return type(class_name, (family,), namespace)


def family(driver: type[SourceMeter], twin: str, table: Sequence[Variant], *, of: str = "") -> list[Model]:
    """One model per row of a family's table, each with its twin the family's twin file."""
    return [
        Model(row.name, variant_driver(driver, row), twin, row.addresses, row.identity, of or driver.model)
        for row in table
    ]


REGISTRY: list[Model] = [
    Model("keithley2400", Keithley2400, "keithley2400", ("GPIB0::24::INSTR",)),
    *family(Keithley2400, "keithley2400", KEITHLEY_2400_VARIANTS),
    Model(
        "keithley2450",
        Keithley2450,
        "keithley2450",
        ("GPIB0::18::INSTR", "USB0::0x05E6::0x2450::04096302::INSTR"),
    ),
    *family(Keithley2450, "keithley2450", KEITHLEY_2450_VARIANTS),
    Model(
        "keysight_b2901",
        KeysightB2901,
        "keysight_b2901",
        ("GPIB0::23::INSTR", "USB0::0x0957::0x8B18::MY51141234::INSTR"),
    ),
    *family(KeysightB2901, "keysight_b2901", B2901_VARIANTS),
    # two channels: the driver is channel 1, ``channel(2)`` the other
    Model("keysight_b2902", KeysightB2902, "keysight_b2902", ("GPIB0::22::INSTR",)),
    *family(KeysightB2902, "keysight_b2902", B2902_VARIANTS),
    # TSP (Lua), one or two channels (smua, smub): every model a row of the family's table
    *family(Keithley2600, "keithley2600", KEITHLEY_2600B),
]

#: model name -> driver class
MODELS: dict[str, type[SourceMeter]] = {model.name: model.driver for model in REGISTRY}


def register(model: Model) -> None:
    """Add a model (a plugin's, or a test's); configs, the CLI and the default bench see it."""
    if model.name in MODELS:
        raise ValueError(f"model {model.name!r} is registered already")
    REGISTRY.append(model)
    MODELS[model.name] = model.driver


def unregister(name: str) -> None:
    REGISTRY.remove(model_named(name))
    del MODELS[name]


def model_named(name: str) -> Model:
    for model in REGISTRY:
        if model.name == name:
            return model
    raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")


def model_answering(identity: str) -> Model | None:
    """The registered model an ``*IDN?`` answer names: the last whose driver accepts it, in
    the registry's order, where each family's more specific drivers follow it (the 2410's
    after the 2400's, which accepts the whole family; the B2902's after the B2901's)."""
    found = None
    for model in REGISTRY:
        pattern = model.driver.identity_pattern
        if pattern and re.search(pattern, identity):
            found = model
    return found
