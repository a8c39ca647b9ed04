"""What ``labrun check`` prints: the experiment, its limits, a duration estimate."""

from __future__ import annotations

from labrun.drivers import (
    MODELS,
)
from labrun.experiments.config.schema import Config, IVSweepConfig
from labrun.experiments.config.station import StationConfig
from labrun.experiments.model.parameters import units_of


def plan(config: Config) -> list[str]:
    """What ``labrun check`` prints: the experiment, its limits and a duration estimate."""
    exp, inst = config.experiment, config.instrument
    unit, limit_unit = units_of(exp.mode)
    limits = MODELS[inst.model].limits
    where = "simulated " if inst.sim else ""
    if isinstance(exp, IVSweepConfig):
        what = (
            f"sweep: {exp.mode} from {exp.start:g} {unit} to {exp.stop:g} {unit}, "
            f"{exp.num_points} {exp.spacing} points{' and back' if exp.return_sweep else ''} "
            f"({exp.readings} readings), {exp.sweep}"
            + (f" (polled every {exp.poll_interval:g} s)" if exp.sweep == "hardware" else "")
        )
        wait = exp.delay
    else:
        what = f"time trace: {exp.num_points} readings at {exp.level:g} {unit}, every {exp.interval:g} s"
        wait = exp.interval
    return [
        f"instrument: {where}{inst.model} at {inst.address}, termination {inst.termination}"
        + (f", {inst.baud_rate} baud" if inst.baud_rate else "")
        + (f" (a twin made from this config: {inst.load.type} load)" if inst.sim else "")
        + (f", NPLC {inst.nplc:g}" if inst.nplc is not None else "")
        + (f", {inst.sense} sense" if inst.sense else ""),
        what,
        f"compliance: {exp.compliance:g} {limit_unit}; "
        f"model range: ±{limits.max_voltage:g} V, ±{limits.max_current:g} A",
        f"duration: at least {_duration(exp.readings * wait)}",
        f"data: {config.save.directory}/{config.save.name or exp.type}_<time>.csv"
        f"{' and a PNG plot' if config.save.plot else ''}",
    ]


def station_plan(config: StationConfig) -> list[str]:
    """What ``labrun check`` prints for a station: each instrument, the wiring, the grid,
    the order outputs go on and off, a duration estimate."""
    exp = config.experiment
    lines = []
    for name, inst in config.station.items():
        channel = f" channel {inst.channel}" if MODELS[inst.model].channels > 1 else ""
        lines.append(
            f"{name}: {'simulated ' if inst.sim else ''}{inst.model} at {inst.address}{channel}"
            + (f", NPLC {inst.nplc:g}" if inst.nplc is not None else "")
            + (f", {inst.sense} sense" if inst.sense else "")
        )
    if config.circuit is not None:
        c = config.circuit
        lines.append(
            f"circuit (simulated): {c.polarity}-type mosfet, threshold {c.threshold:g} V, "
            f"gate on {c.gate}, drain on {c.drain}, source on {c.source}"
        )
    gate, drain = exp.gate.values(), exp.drain.values()
    outer, inner = ("gate", "drain") if exp.type == "fet_output" else ("drain", "gate")
    levels = {"gate": gate, "drain": drain}
    lines.append(
        f"{exp.type}: {len(levels[outer])} {outer} steps ({_levels(levels[outer])}) x "
        f"{len(levels[inner])} {inner} points ({_levels(levels[inner])}) = {exp.readings} points, {exp.sweep}"
    )
    lines.append(
        f"compliance: gate {exp.gate.compliance[0]:g} A, drain {exp.drain.compliance[0]:g} A; "
        "on: gate, then drain; off: drain, then gate (each ramped)"
    )
    per_point = exp.delay + sum(
        (config.station[exp.instrument_of(t)].nplc or 0.0) / 50 for t in ("gate", "drain")
    )
    lines.append(f"duration: at least {_duration(exp.readings * per_point)}")
    lines.append(
        f"data: {config.save.directory}/{config.save.name or exp.type}_<time>.csv"
        f"{' and a PNG plot (a curve per ' + outer + ' step)' if config.save.plot else ''}"
    )
    return lines


def _levels(values: tuple[float, ...]) -> str:
    if len(values) <= 4:
        return ", ".join(f"{v:g}" for v in values) + " V"
    return f"{values[0]:g} .. {values[-1]:g} V"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
