"""Every supported model, declared once: one line per model.

A model's driver class carries its identity pattern, its limits and its settings; its
simulated twin is a data file in ``sim_devices/`` (the command tree from the manual and
the name of the twin behaviour that computes its readings). Everything else derives
from this table: the models a config accepts, the CLI's help, the simulator's default
bench, and the tests' parametrisation. Adding a model: its driver file, its twin data
file, and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keithley2400 import Keithley2400
from .keithley2450 import Keithley2450
from .keysight_b2900 import KeysightB2901, KeysightB2902
from .settings import Setting
from .sourcemeter import SourceMeter


@dataclass(frozen=True)
class Model:
    """One supported instrument model."""

    name: str  # as configs, scripts and bench files name it
    driver: type[SourceMeter]
    twin: str  # its twin's data file: sim_devices/<twin>.yaml
    #: where the default simulated bench (``ResourceManager("@labrun")``) puts its twins
    addresses: tuple[str, ...]

    def setting_table(self) -> dict[str, Setting]:
        """The model's settings, by name (its driver's table: see ``SourceMeter.setting_table``)."""
        return self.driver.setting_table()


USB_2450 = "USB0::0x05E6::0x2450::04096302::INSTR"
USB_B2901 = "USB0::0x0957::0x8B18::MY51141234::INSTR"

REGISTRY: list[Model] = [
    Model("keithley2400", Keithley2400, "keithley2400", ("GPIB0::24::INSTR",)),
    Model(
        "keithley2450",
        Keithley2450,
        "keithley2450",
        ("GPIB0::18::INSTR", "USB0::0x05E6::0x2450::04096302::INSTR"),
    ),
    Model(
        "keysight_b2901",
        KeysightB2901,
        "keysight_b2901",
        ("GPIB0::23::INSTR", "USB0::0x0957::0x8B18::MY51141234::INSTR"),
    ),
    # two channels: the driver is channel 1, ``channel(2)`` the other
    Model("keysight_b2902", KeysightB2902, "keysight_b2902", ("GPIB0::22::INSTR",)),
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
