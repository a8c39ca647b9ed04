"""What sits behind a simulated output: the device under test.

Why: pyvisa-sim answers from static tables, so it cannot compute a current from a
voltage. A load maps a terminal voltage to a current and back, which is all a
source-meter twin needs to answer like the bench (compliance included).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

BOLTZMANN_OVER_CHARGE = 8.617333262e-5  # V/K


class Load(Protocol):
    """A two-terminal device: I(V) and its inverse V(I)."""

    def current(self, voltage: float) -> float: ...

    def voltage(self, current: float) -> float: ...


@dataclass(frozen=True)
class Resistor:
    """Ohm's law: I = V / R."""

    resistance: float = 1000.0

    def __post_init__(self) -> None:
        if not self.resistance > 0:
            raise ValueError(f"resistance must be > 0 ohm, got {self.resistance}")

    def current(self, voltage: float) -> float:
        return voltage / self.resistance

    def voltage(self, current: float) -> float:
        return current * self.resistance


@dataclass(frozen=True)
class Diode:
    """Shockley diode: I = Is (exp(V / (n kT/q)) - 1)."""

    saturation_current: float = 1e-12
    ideality: float = 1.0
    temperature: float = 300.0

    def __post_init__(self) -> None:
        if not (self.saturation_current > 0 and self.ideality > 0 and self.temperature > 0):
            raise ValueError(f"diode parameters must be > 0, got {self}")

    @property
    def thermal_voltage(self) -> float:
        return self.ideality * BOLTZMANN_OVER_CHARGE * self.temperature

    def current(self, voltage: float) -> float:
        exponent = min(voltage / self.thermal_voltage, 700.0)  # beyond: compliance clips
        return self.saturation_current * math.expm1(exponent)

    def voltage(self, current: float) -> float:
        if current <= -self.saturation_current:
            return -math.inf  # reverse bias cannot pass more than Is: compliance decides
        return self.thermal_voltage * math.log1p(current / self.saturation_current)


@dataclass(frozen=True)
class OpenCircuit:
    """Nothing connected: no current flows, any current drives the voltage to the limit."""

    def current(self, voltage: float) -> float:
        return 0.0

    def voltage(self, current: float) -> float:
        return math.copysign(math.inf, current) if current else 0.0


def load_from_dict(spec: Mapping[str, Any] | None) -> Load:
    """Build a load from bench YAML, e.g. ``{type: diode, saturation_current: 1e-9}``."""
    if not spec:
        return Resistor()
    params = dict(spec)
    kind = str(params.pop("type", "resistor")).lower()
    kinds: dict[str, type] = {"resistor": Resistor, "diode": Diode, "open": OpenCircuit}
    if kind not in kinds:
        raise ValueError(f"unknown load type {kind!r}; allowed: {sorted(kinds)}")
    try:
        load: Load = kinds[kind](**{k: float(v) for k, v in params.items()})
    except TypeError as error:
        raise ValueError(f"bad parameters for a {kind} load: {params} ({error})") from None
    return load


def source_and_measure(
    load: Load,
    mode: str,
    level: float,
    current_limit: float,
    voltage_limit: float,
) -> tuple[float, float]:
    """Terminal (voltage, current) when sourcing ``level`` into ``load``, with compliance.

    In voltage mode the current is clipped at ``current_limit`` and the voltage falls
    to what the load develops at that current; current mode is the mirror image.
    """
    if mode.upper().startswith("CURR"):
        voltage = load.voltage(level)
        if abs(voltage) > voltage_limit:
            voltage = math.copysign(voltage_limit, voltage)
            return voltage, _clip(load.current(voltage), abs(level))
        return voltage, level
    current = load.current(level)
    if abs(current) > current_limit:
        current = math.copysign(current_limit, current)
        voltage = load.voltage(current)
        if not math.isfinite(voltage) or abs(voltage) > abs(level):
            voltage = level
        return voltage, current
    return level, current


def _clip(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))
