"""Pictures of measured data, drawn without a screen.

Why ``Figure`` and not ``pyplot``: pyplot keeps global state and a global backend;
a library that calls it can break a notebook's backend or leak figures in a long run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MARKED_POINTS = 200


def agg_figure() -> tuple[Figure, Axes]:
    """A figure on the Agg canvas: no pyplot, no global backend."""
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def axis_label(column: str, unit: str) -> str:
    """``voltage (V)``; a unitless column (``step``) is just its name."""
    return f"{column} ({unit})" if unit else column


def label_axes(axes: Axes, x: str, y: str, units: Mapping[str, str]) -> None:
    """Column names with their units on the axes, a light grid, small currents in 1e-6 style:
    the saved picture and the live one look alike."""
    axes.set_xlabel(axis_label(x, units[x]))
    axes.set_ylabel(axis_label(y, units[y]))
    axes.grid(True, alpha=0.3)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))


def curves(
    data: Mapping[str, npt.NDArray[np.float64]], x: str, y: str, family: Sequence[str] = ()
) -> list[tuple[tuple[float, ...], npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """(family values, xs, ys): one curve per combination of the ``family`` columns' values,
    in the order they were measured (one curve of everything without a family)."""
    xs, ys = np.asarray(data[x]), np.asarray(data[y])
    if not family:
        return [((), xs, ys)]
    keys = list(zip(*(np.asarray(data[name]).tolist() for name in family), strict=True))
    grouped: dict[tuple[float, ...], list[int]] = {}
    for row, key in enumerate(keys):
        grouped.setdefault(key, []).append(row)
    return [(key, xs[rows], ys[rows]) for key, rows in grouped.items()]


def curve_label(family: Sequence[str], values: Sequence[float], units: Mapping[str, str]) -> str:
    """``gate 1.5 V`` for the curve at gate_source = 1.5 V."""
    return ", ".join(
        f"{name.removesuffix('_source')} {value:g} {units.get(name, '')}".rstrip()
        for name, value in zip(family, values, strict=True)
    )


def draw_curves(
    axes: Axes,
    data: Mapping[str, npt.NDArray[np.float64]],
    *,
    x: str,
    y: str,
    units: Mapping[str, str],
    family: Sequence[str] = (),
    log: bool = False,
) -> int:
    """Every curve of the data on ``axes`` (replacing what was drawn), a legend when there
    are several; ``log``: |y| on a log axis. Returns the number of points drawn."""
    for line in list(axes.lines):
        line.remove()
    drawn = 0
    for key, xs, ys in curves(data, x, y, family):
        style = "o-" if len(xs) <= MARKED_POINTS else "-"
        label = curve_label(family, key, units) if family else None
        values = np.abs(ys) if log else ys
        axes.plot(xs, values, style, markersize=3, linewidth=1, label=label)
        drawn += len(xs)
    if log:
        axes.set_yscale("log")
        axes.set_xlabel(axis_label(x, units[x]))
        axes.set_ylabel(f"|{axis_label(y, units[y])}|")
        axes.grid(True, which="both", alpha=0.3)
    else:
        label_axes(axes, x, y, units)
    if family and axes.lines:
        axes.legend(fontsize="small")
    axes.relim()
    axes.autoscale_view()
    return drawn


def curve_figure(log: bool) -> tuple[Figure, list[Axes]]:
    """An Agg figure with one panel, or two (linear and log current) side by side."""
    if not log:
        figure, axes = agg_figure()
        return figure, [axes]
    figure = Figure(figsize=(11, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    return figure, [figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)]


def plot_columns(
    data: Mapping[str, npt.NDArray[np.float64]],
    path: str | os.PathLike[str],
    *,
    x: str,
    y: str,
    units: Mapping[str, str],
    title: str,
    family: Sequence[str] = (),
    log_current: bool = False,
) -> None:
    """Column ``y`` against column ``x``, labelled with their units, saved as PNG.

    Markers show each point while there are few enough to tell apart (an IV sweep's
    41 points); a long trace is drawn as a line. With a ``family``, one curve per
    combination of its columns' values, with a legend (a transistor's output curves, one
    per gate voltage); ``log_current`` adds a panel with |y| on a log axis.
    """
    figure, panels = curve_figure(log_current)
    points = 0
    for panel, log in zip(panels, (False, True), strict=False):
        points = draw_curves(panel, data, x=x, y=y, units=units, family=family, log=log)
    panels[0].set_title(f"{title} ({points} points)")
    figure.tight_layout()
    figure.savefig(path, format="png")


def plot_spectrum(
    frequency: npt.NDArray[np.float64],
    power: Mapping[str, npt.NDArray[np.float64]],
    path: str | os.PathLike[str],
    *,
    title: str = "power spectrum",
) -> None:
    """Power against frequency (log scale), one line per column, saved as PNG."""
    figure, axes = agg_figure()
    for name, values in power.items():
        axes.semilogy(frequency[1:], np.maximum(values[1:], 1e-300), linewidth=1, label=name)
    axes.set_xlabel("frequency (Hz)")
    axes.set_ylabel("power (unit² per bin)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
