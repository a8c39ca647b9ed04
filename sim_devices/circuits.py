"""Circuits wired between the channels of twins: a transistor between a gate SMU and a
drain SMU, so the drain current depends on the voltage another channel sets.

Why here and not in a load: a load is a two-terminal device behind one output. A
circuit has a terminal on each of several channels (of one twin or of several); each
channel sees a :class:`CircuitPort`, a load whose current also depends on what the other
channels source now. Unwired terminals are grounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, Protocol

from .loads import BOLTZMANN_OVER_CHARGE

#: where a terminal is wired: (address, channel); None is ground
Port = tuple[str, int] | None
TERMINALS = ("gate", "drain", "source")


@dataclass(frozen=True)
class Mosfet:
    """A field-effect transistor, by the textbook square law, smoothed into subthreshold.

    Above threshold ``I_D = gain (V_GS - V_th)^2 (1 + lambda V_DS)`` in saturation and
    ``gain (2 V_ov V_DS - V_DS^2)(1 + lambda V_DS)`` below it (``gain`` = µC_ox W / 2L). The
    overdrive is ``2 n V_T ln(1 + exp((V_GS - V_th) / 2 n V_T))`` (EKV's interpolation),
    so below threshold the current falls one decade per ``subthreshold_swing`` volts.
    The gate leaks ``gate_leakage`` A per volt. A p-type is the mirror image: give its
    (negative) threshold as it is.
    """

    polarity: Literal["n", "p"] = "n"
    threshold: float = 1.0  # V
    gain: float = 1e-3  # A/V^2
    channel_length_modulation: float = 0.02  # 1/V
    subthreshold_swing: float = 0.1  # V per decade
    gate_leakage: float = 1e-12  # A/V
    temperature: float = 300.0  # K

    def __post_init__(self) -> None:
        if self.polarity not in ("n", "p"):
            raise ValueError(f"polarity must be 'n' or 'p', got {self.polarity!r}")
        for name in ("gain", "subthreshold_swing", "temperature"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.subthreshold_swing < self.thermal_voltage * math.log(10):
            limit = 1e3 * self.thermal_voltage * math.log(10)
            raise ValueError(f"subthreshold_swing below the thermal limit ({limit:.1f} mV/decade here)")
        if self.channel_length_modulation < 0 or self.gate_leakage < 0:
            raise ValueError("channel_length_modulation and gate_leakage must be >= 0")

    @property
    def thermal_voltage(self) -> float:
        return BOLTZMANN_OVER_CHARGE * self.temperature

    def drain_current(self, vgs: float, vds: float) -> float:
        """Current into the drain, A."""
        if self.polarity == "p":
            return -self._n_current(-vgs, -vds, -self.threshold)
        return self._n_current(vgs, vds, self.threshold)

    def gate_current(self, vgs: float) -> float:
        """Current into the gate, A (its leakage)."""
        return self.gate_leakage * vgs

    def _n_current(self, vgs: float, vds: float, threshold: float) -> float:
        if vds < 0:  # drain and source swap roles
            return -self._n_current(vgs - vds, -vds, threshold)
        slope = self.subthreshold_swing / math.log(10)  # n V_T
        x = (vgs - threshold) / (2 * slope)
        overdrive = 2 * slope * (x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x)))
        vds_effective = min(vds, overdrive)
        return (
            self.gain
            * (2 * overdrive * vds_effective - vds_effective**2)
            * (1 + self.channel_length_modulation * vds)
        )

    def currents(self, voltages: Mapping[str, float]) -> dict[str, float]:
        """The current into each terminal, at these terminal voltages (V)."""
        vgs = voltages["gate"] - voltages["source"]
        drain = self.drain_current(vgs, voltages["drain"] - voltages["source"])
        gate = self.gate_current(vgs)
        return {"gate": gate, "drain": drain, "source": -(gate + drain)}


class Terminals(Protocol):
    """A twin as a circuit sees it: the voltage its channel puts on a terminal now."""

    def terminal_voltage(self, channel: int) -> float: ...


class Circuit:
    """A device whose terminals are wired to twins' channels (``wiring``: terminal -> port)."""

    def __init__(self, device: Mosfet, wiring: Mapping[str, Port]) -> None:
        unknown = set(wiring) - set(TERMINALS)
        if unknown:
            raise ValueError(f"unknown terminals {sorted(unknown)}; a mosfet has {', '.join(TERMINALS)}")
        self.device = device
        self.wiring: dict[str, Port] = {terminal: wiring.get(terminal) for terminal in TERMINALS}
        wired = [port for port in self.wiring.values() if port is not None]
        if len(set(wired)) != len(wired):
            raise ValueError("two terminals wired to one channel")
        self._twins: dict[str, Terminals] = {}  # by address: the twin now serving it

    def attach(self, address: str, twin: Any) -> None:
        """``twin`` now serves ``address``: its wired channels see this circuit."""
        self._twins[address] = twin
        for terminal, port in self.wiring.items():
            if port is not None and port[0] == address:
                twin.loads[port[1]] = CircuitPort(self, terminal)

    def voltage_at(self, terminal: str) -> float:
        port = self.wiring[terminal]
        if port is None or port[0] not in self._twins:
            return 0.0
        return self._twins[port[0]].terminal_voltage(port[1])

    def current_into(self, terminal: str, voltage: float) -> float:
        """The current into ``terminal`` held at ``voltage``, the others as their channels set them."""
        voltages = {name: self.voltage_at(name) for name in TERMINALS if name != terminal}
        voltages[terminal] = voltage
        return self.device.currents(voltages)[terminal]


@dataclass(frozen=True)
class CircuitPort:
    """One terminal of a circuit, as the load behind one channel's output."""

    circuit: Circuit
    terminal: str

    def current(self, voltage: float) -> float:
        return self.circuit.current_into(self.terminal, voltage)

    def voltage(self, current: float) -> float:
        """The voltage that drives ``current`` into the terminal (its I(V) rises with V);
        +-inf when no voltage within 1 kV does: the compliance then decides."""
        return _solve(self.current, current, -1000.0, 1000.0)


def _solve(f: Callable[[float], float], target: float, low: float, high: float) -> float:
    if f(high) < target:
        return math.inf
    if f(low) > target:
        return -math.inf
    for _ in range(80):
        middle = (low + high) / 2
        if f(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def circuit_from_dict(spec: Mapping[str, Any]) -> Circuit:
    """A circuit from bench YAML: ``{type: mosfet, threshold: 1.0, ..., gate: {address: A,
    channel: 1}, drain: {address: B, channel: 1}}`` (a terminal not given, or ``ground``,
    is grounded)."""
    params = dict(spec)
    kind = str(params.pop("type", "mosfet")).lower()
    if kind != "mosfet":
        raise ValueError(f"unknown circuit type {kind!r}; allowed: ['mosfet']")
    wiring: dict[str, Port] = {}
    for terminal in TERMINALS:
        port = params.pop(terminal, None)
        if port is None or port == "ground":
            wiring[terminal] = None
        elif isinstance(port, Mapping) and "address" in port:
            wiring[terminal] = (str(port["address"]), int(port.get("channel", 1)))
        else:
            raise ValueError(f"{terminal}: expected ground or {{address: ..., channel: N}}, got {port!r}")
    known = {f.name for f in fields(Mosfet)}
    if unknown := set(params) - known:
        raise ValueError(f"unknown mosfet parameters {sorted(unknown)}; allowed: {sorted(known)}")
    values: dict[str, Any] = {k: (v if k == "polarity" else float(v)) for k, v in params.items()}
    return Circuit(Mosfet(**values), wiring)
