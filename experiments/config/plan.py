"""What ``labrun check`` prints: the experiment, its limits, a duration estimate; for a
sequence, its steps and their time."""

from __future__ import annotations

from labrun.drivers import (
    MODELS,
)
from labrun.experiments.config.instrument import AveragingConfig, InstrumentConfig
from labrun.experiments.config.schema import Config, IVSweepConfig
from labrun.experiments.config.sequence import Steps
from labrun.experiments.config.station import StationConfig
from labrun.experiments.model.parameters import units_of

#: steps a sequence's plan lists one by one; past that, how many more there are
LISTED_STEPS = 50
#: the line frequency the time model assumes (the twins' default)
LINE_FREQUENCY = 50.0


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
    else:
        what = f"time trace: {exp.num_points} readings at {exp.level:g} {unit}, every {exp.interval:g} s"
    return [
        f"instrument: {where}{inst.model} at {inst.address}, termination {inst.termination}"
        + (f", {inst.baud_rate} baud" if inst.baud_rate else "")
        + (f" (a twin made from this config: {inst.load.type} load)" if inst.sim else "")
        + (f", NPLC {inst.nplc:g}" if inst.nplc is not None else "")
        + (f", {inst.sense} sense" if inst.sense else ""),
        what,
        f"compliance: {exp.compliance:g} {limit_unit}; "
        f"model range: ±{limits.max_voltage:g} V, ±{limits.max_current:g} A",
        duration(config),
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
    lines.append(duration(config))
    lines.append(
        f"data: {config.save.directory}/{config.save.name or exp.type}_<time>.csv"
        f"{' and a PNG plot (a curve per ' + outer + ' step)' if config.save.plot else ''}"
    )
    return lines


def plan_of(config: Config | StationConfig) -> list[str]:
    """The plan of a one-instrument config or of a station."""
    return station_plan(config) if isinstance(config, StationConfig) else plan(config)


def sequence_plan(steps: Steps) -> list[str]:
    """What ``labrun check`` prints for a sequence: how many runs, how they are made, each
    step's values and time, the total, then the first run's own plan."""
    if not steps.is_sequence:
        return plan_of(steps.steps[0].config)
    n = len(steps)
    if steps.kind == "product" and len(steps.keys) == 1:
        how = f"over {steps.keys[0]}"
    elif steps.kind == "product":
        how = " x ".join(f"{key} ({size})" for key, size in zip(steps.keys, steps.shape, strict=True))
        how = f"a product of {how}, the first outermost"
    else:
        kind = "keys stepping together" if steps.kind == "zip" else "a list of steps"
        how = f"{kind}: {', '.join(steps.keys)}"
    lines = [f"sequence: {n} runs, {how}; on_error: {steps.on_error}"]
    total, realistic = 0.0, True
    for step in steps.steps:
        seconds, timed = estimate(step.config)
        total, realistic = total + seconds, realistic and timed
        if step.index < LISTED_STEPS:
            lines.append(f"  {step.index + 1}/{n}: {step.label()} ({_about(seconds, timed)})")
    if n > LISTED_STEPS:
        lines.append(f"  ... and {n - LISTED_STEPS} more steps")
    lines.append(_said(total, realistic) + f" for the {n} runs (opening each run's instruments aside)")
    lines.append("the first run:")
    return lines + [f"  {line}" for line in plan_of(steps.steps[0].config)]


def duration(config: Config | StationConfig) -> str:
    """The plan's duration line: from the twins' time model where they keep it, else the
    delays and points (a floor)."""
    return _said(*estimate(config))


def _said(seconds: float, realistic: bool) -> str:
    return f"duration: {_about(seconds, realistic)}" + (" (the twins' time model)" if realistic else "")


def _about(seconds: float, realistic: bool) -> str:
    return f"{'about' if realistic else 'at least'} {_duration(seconds)}"


def estimate(config: Config | StationConfig) -> tuple[float, bool]:
    """Seconds a config's run takes, and True if that is the twins' time model (every
    instrument simulated with ``timing: realistic``); else the delays and points alone."""
    if isinstance(config, StationConfig):
        grid = config.experiment
        instruments = [config.station[grid.instrument_of(t)] for t in ("gate", "drain")]
        if all(i.sim and i.timing == "realistic" for i in instruments):
            return grid.readings * (grid.delay + sum(map(_point_seconds, instruments))), True
        nplc = sum((i.nplc or 0.0) / LINE_FREQUENCY for i in instruments)
        return grid.readings * (grid.delay + nplc), False
    exp, inst = config.experiment, config.instrument
    wait = exp.delay if isinstance(exp, IVSweepConfig) else exp.interval
    if inst.sim and inst.timing == "realistic":
        point = _point_seconds(inst)
        return exp.readings * (wait + point if isinstance(exp, IVSweepConfig) else max(wait, point)), True
    return exp.readings * wait, False


def _point_seconds(inst: InstrumentConfig) -> float:
    """One point on a twin that keeps the instrument's time: its reading (NPLC, averaging,
    autozero: on where the model has it, as the twins start), its source delay, and the
    point's messages on the link (the level and the reading, each answered)."""
    from labrun.sim_devices.timing import Timing

    timing = Timing.for_address(inst.address)
    table = MODELS[inst.model].setting_table()
    averaging = inst.averaging.count if isinstance(inst.averaging, AveragingConfig) else 1
    autozero = inst.autozero if inst.autozero is not None else "autozero" in table
    delay = inst.source_delay if isinstance(inst.source_delay, float) else 0.0
    reading = timing.reading(inst.nplc or 1.0, LINE_FREQUENCY, averaging=averaging, autozero=autozero)
    return reading + delay + 4 * timing.link_latency


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
