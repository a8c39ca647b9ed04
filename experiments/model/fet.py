"""A field-effect transistor's output and transfer curves: two presets of the grid sweep.

The gate and the drain are terminals named for what they are wired to; the outputs go
on gate first and are shut down drain first (the grid's order), each ramped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labrun.drivers import SourceMeter

from .grid_sweep import Axis, GridSweep, Terminal


def fet_output(
    gate: SourceMeter,
    drain: SourceMeter,
    *,
    gate_levels: Sequence[float],
    drain_levels: Sequence[float],
    gate_compliance: float,
    drain_compliance: float,
    names: tuple[str, str] = ("gate", "drain"),
    **options: Any,
) -> GridSweep:
    """Output curves: the drain current against the drain voltage, one curve per gate voltage."""
    g, d = names
    return GridSweep(
        [Terminal(g, gate, gate_compliance), Terminal(d, drain, drain_compliance)],
        [Axis(g, tuple(gate_levels)), Axis(d, tuple(drain_levels))],
        plot=(f"{d}_voltage", f"{d}_current"),
        name=options.pop("name", "fet_output"),
        **options,
    )


def fet_transfer(
    gate: SourceMeter,
    drain: SourceMeter,
    *,
    gate_levels: Sequence[float],
    drain_levels: Sequence[float],
    gate_compliance: float,
    drain_compliance: float,
    names: tuple[str, str] = ("gate", "drain"),
    **options: Any,
) -> GridSweep:
    """Transfer curves: the drain current against the gate voltage, one curve per drain
    voltage (one drain level: one curve), drawn on a log axis too (the subthreshold slope)."""
    g, d = names
    return GridSweep(
        [Terminal(g, gate, gate_compliance), Terminal(d, drain, drain_compliance)],
        [Axis(d, tuple(drain_levels)), Axis(g, tuple(gate_levels))],
        plot=(f"{g}_voltage", f"{d}_current"),
        log_current=True,
        name=options.pop("name", "fet_transfer"),
        **options,
    )
