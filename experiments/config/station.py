"""A station config: several named instruments (or channels), their simulated wiring,
and an experiment on them that names them (a transistor's output or transfer curves).

```yaml
station:
  gate:  {model: keysight_b2902, address: GPIB0::22::INSTR, channel: 1, sim: true}
  drain: {model: keysight_b2902, address: GPIB0::22::INSTR, channel: 2, sim: true}
circuit: {type: mosfet, threshold: 1 V, gate: gate, drain: drain}
experiment:
  type: fet_output
  gate:  {start: 0 V, stop: 3 V, num_points: 4, compliance: 1 mA}
  drain: {start: 0 V, stop: 5 V, num_points: 51, compliance: 100 mA}
```

Checked whole before anything is opened: every instrument's settings, channels that
exist, instruments sharing an address that agree, the wiring, every level within its
instrument's range.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from labrun.drivers import MODELS, LimitError
from labrun.experiments.config.fields import (
    ConfigFieldError,
    Kelvin,
    Level,
    Seconds,
    Strict,
    Volts,
)
from labrun.experiments.config.instrument import InstrumentConfig
from labrun.experiments.config.schema import SaveConfig
from labrun.experiments.model.grid_sweep import levels_between
from labrun.experiments.model.parameters import MAX_POINTS
from labrun.experiments.model.sourcing import check_hardware_sweep, check_sweep_limits

#: what a station's instruments must share when they are channels of one instrument
SHARED = ("model", "sim", "backend", "timeout", "termination", "baud_rate", "force_model", "timing")


class StationInstrumentConfig(InstrumentConfig):
    """One instrument of a station, or one channel of it (``channel``)."""

    channel: int = Field(1, ge=1)

    @model_validator(mode="after")
    def channel_exists(self) -> StationInstrumentConfig:
        channels = MODELS[self.model].channels
        if self.channel > channels:
            raise ConfigFieldError("instrument.channel", f"the {self.model} has channels 1 .. {channels}")
        return self


class MosfetConfig(Strict):
    """The transistor between the simulated instruments, and which terminal sits on which."""

    type: Literal["mosfet"] = "mosfet"
    polarity: Literal["n", "p"] = "n"
    threshold: Volts = 1.0
    #: µC_ox W / 2L, in A/V²: I_D = gain (V_GS - V_th)² in saturation
    gain: float = Field(1e-3, gt=0)
    #: 1/V: the saturated current's rise with V_DS
    channel_length_modulation: float = Field(0.02, ge=0)
    #: volts per decade of current below threshold (at least 60 mV at room temperature)
    subthreshold_swing: Volts = Field(0.1, gt=0)
    #: gate leakage, A per volt of V_GS
    gate_leakage: float = Field(1e-12, ge=0)
    temperature: Kelvin = Field(300.0, gt=0)
    #: the station instrument each terminal is wired to, or ground
    gate: str
    drain: str
    source: str = "ground"

    def device(self) -> dict[str, Any]:
        return self.model_dump(exclude={"gate", "drain", "source"})


class AxisConfig(Strict):
    """A terminal's levels (start, stop, num_points; or a list of levels) and compliance."""

    instrument: str | None = None  # the station's name for it; default: the key's own name
    start: Level | None = None
    stop: Level | None = None
    num_points: int | None = Field(None, gt=0, le=MAX_POINTS)
    levels: list[Level] | None = None
    compliance: Level

    @model_validator(mode="after")
    def one_way_of_giving_levels(self) -> AxisConfig:
        ramp = (self.start, self.stop, self.num_points)
        if self.levels is not None:
            if any(v is not None for v in ramp):
                raise ValueError("give levels, or start, stop and num_points, not both")
            if not self.levels:
                raise ValueError("levels: at least one")
        elif any(v is None for v in ramp):
            raise ValueError("give start, stop and num_points (or a list of levels)")
        elif (
            self.num_points
            and self.num_points > 1
            and self.start
            and self.stop
            and self.start[0] == self.stop[0]
        ):
            raise ValueError(f"stop equals start ({self.start[0]:g}) with {self.num_points} points")
        for key, level in (
            ("start", self.start),
            ("stop", self.stop),
            *(("levels", v) for v in self.levels or ()),
        ):
            if level is not None and level[1] not in (None, "V"):
                raise ValueError(f"{key}: the transistor presets source voltages, in V, not {level[1]}")
        if self.compliance[1] not in (None, "A"):
            raise ValueError(
                f"compliance: sourcing voltage, the compliance is a current, in A, not {self.compliance[1]}"
            )
        return self

    def values(self) -> tuple[float, ...]:
        if self.levels is not None:
            return tuple(v for v, _ in self.levels)
        assert self.start is not None and self.stop is not None and self.num_points is not None
        return levels_between(self.start[0], self.stop[0], self.num_points)


class FetConfig(Strict):
    """A transistor's curves: ``fet_output`` (I_D against V_D, a curve per gate voltage)
    or ``fet_transfer`` (I_D against V_G, a curve per drain voltage)."""

    type: Literal["fet_output", "fet_transfer"]
    gate: AxisConfig
    drain: AxisConfig
    delay: Seconds = Field(0.0, ge=0, le=86_400)
    sweep: Literal["stepped", "hardware"] = "stepped"
    poll_interval: Seconds = Field(0.05, gt=0, le=60)
    #: a pause holds the levels, or (safe) ramps every output down and off until the resume
    pause: Literal["hold", "safe"] = "hold"

    def instrument_of(self, terminal: str) -> str:
        axis: AxisConfig = getattr(self, terminal)
        return axis.instrument or terminal

    @property
    def readings(self) -> int:
        return len(self.gate.values()) * len(self.drain.values())


class StationConfig(Strict):
    station: dict[str, StationInstrumentConfig]
    circuit: MosfetConfig | None = None
    experiment: FetConfig
    save: SaveConfig = SaveConfig()

    @model_validator(mode="after")
    def consistent(self) -> StationConfig:
        if not self.station:
            raise ConfigFieldError("station", "name at least one instrument")
        self._check_shared_addresses()
        self._check_experiment()
        self._check_circuit()
        return self

    def _check_shared_addresses(self) -> None:
        seen: dict[tuple[str, int], str] = {}
        first: dict[str, str] = {}
        for name, inst in self.station.items():
            key = (inst.address, inst.channel)
            if key in seen:
                raise ConfigFieldError(
                    f"station.{name}.channel",
                    f"channel {inst.channel} of {inst.address} is {seen[key]!r} already",
                )
            seen[key] = name
            if inst.address in first:
                other = self.station[first[inst.address]]
                for field in SHARED:
                    if getattr(inst, field) != getattr(other, field):
                        raise ConfigFieldError(
                            f"station.{name}.{field}",
                            f"{name!r} and {first[inst.address]!r} are channels of one instrument at "
                            f"{inst.address}: their {field} must agree ({getattr(other, field)!r})",
                        )
            first.setdefault(inst.address, name)

    def _check_experiment(self) -> None:
        exp = self.experiment
        names = []
        for terminal in ("gate", "drain"):
            name = exp.instrument_of(terminal)
            if name not in self.station:
                raise ConfigFieldError(
                    f"experiment.{terminal}.instrument",
                    f"no instrument {name!r} in the station; it has {', '.join(self.station)}",
                )
            names.append(name)
            inst, axis = self.station[name], getattr(exp, terminal)
            try:
                check_sweep_limits(
                    f"{inst.model} ({name})",
                    MODELS[inst.model].limits,
                    mode="voltage",
                    extreme=max(abs(v) for v in axis.values()),
                    compliance=axis.compliance[0],
                    max_voltage=inst.limits.max_voltage,
                    max_current=inst.limits.max_current,
                )
            except LimitError as error:
                key = "compliance" if "compliance" in str(error) else "levels"
                raise ConfigFieldError(f"experiment.{terminal}.{key}", str(error)) from None
        if names[0] == names[1]:
            raise ConfigFieldError("experiment.drain.instrument", f"gate and drain both on {names[0]!r}")
        if exp.sweep == "hardware":
            inner = "drain" if exp.type == "fet_output" else "gate"
            if exp.type == "fet_transfer":
                raise ConfigFieldError(
                    "experiment.sweep",
                    "hardware: a transfer curve sweeps the gate but plots the drain's current, read on "
                    "another channel; an instrument-side sweep times only its own channel's readings: "
                    "use sweep: stepped",
                )
            try:
                check_hardware_sweep(MODELS[self.station[names[1]].model], len(getattr(exp, inner).values()))
            except ValueError as error:  # LimitError is one
                raise ConfigFieldError("experiment.sweep", str(error)) from None

    def _check_circuit(self) -> None:
        if self.circuit is None:
            return
        real = [name for name, inst in self.station.items() if not inst.sim]
        if real:
            raise ConfigFieldError(
                "circuit", f"the wiring of simulated instruments; these are real: {', '.join(real)}"
            )
        wired = []
        for terminal in ("gate", "drain", "source"):
            name = getattr(self.circuit, terminal)
            if terminal == "source" and name == "ground":
                continue
            if name not in self.station:
                raise ConfigFieldError(
                    f"circuit.{terminal}",
                    f"no instrument {name!r} in the station; it has {', '.join(self.station)}",
                )
            wired.append(name)
        if len(set(wired)) != len(wired):
            raise ConfigFieldError("circuit", "two terminals of the transistor on one instrument")

    # ------------------------------------------------------------ what runs

    def bench(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The simulated instruments (one per address) and the circuit between them."""
        entries: dict[str, dict[str, Any]] = {}
        for inst in self.station.values():
            if inst.sim:
                entries.setdefault(inst.address, inst.bench_entry())
        circuits = []
        if self.circuit is not None:
            spec: dict[str, Any] = self.circuit.device()
            for terminal in ("gate", "drain", "source"):
                name = getattr(self.circuit, terminal)
                if name != "ground":
                    inst = self.station[name]
                    spec[terminal] = {"address": inst.address, "channel": inst.channel}
            circuits.append(spec)
        return list(entries.values()), circuits
