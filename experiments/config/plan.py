"""What ``labrun check`` prints: the experiment, its limits, a duration estimate."""

from __future__ import annotations

from labrun.drivers import (
    MODELS,
)
from labrun.experiments.config.schema import Config, IVSweepConfig
from labrun.experiments.iv_sweep import units_of


def plan(config: Config) -> list[str]:
    """What ``labrun check`` prints: the experiment, its limits and a duration estimate."""
    exp, inst = config.experiment, config.instrument
    unit, limit_unit = units_of(exp.mode)
    limits = MODELS[inst.model].limits
    where = "simulated " if inst.sim else ""
    if isinstance(exp, IVSweepConfig):
        what = (
            f"sweep: {exp.mode} from {exp.start[0]:g} {unit} to {exp.stop[0]:g} {unit}, "
            f"{exp.num_points} {exp.spacing} points{' and back' if exp.return_sweep else ''} "
            f"({exp.readings} readings), {exp.sweep}"
            + (f" (polled every {exp.poll_interval:g} s)" if exp.sweep == "hardware" else "")
        )
        wait = exp.delay
    else:
        what = f"time trace: {exp.num_points} readings at {exp.level[0]:g} {unit}, every {exp.interval:g} s"
        wait = exp.interval
    return [
        f"instrument: {where}{inst.model} at {inst.address}, termination {inst.termination}"
        + (f", {inst.baud_rate} baud" if inst.baud_rate else "")
        + (f" (a twin made from this config: {inst.load.type} load)" if inst.sim else "")
        + (f", NPLC {inst.nplc:g}" if inst.nplc is not None else "")
        + (f", {inst.sense} sense" if inst.sense else ""),
        what,
        f"compliance: {exp.compliance[0]:g} {limit_unit}; "
        f"model range: ±{limits.max_voltage:g} V, ±{limits.max_current:g} A",
        f"duration: at least {_duration(exp.readings * wait)}",
        f"data: {config.save.directory}/{config.save.name or exp.type}_<time>.csv"
        f"{' and a PNG plot' if config.save.plot else ''}",
    ]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
