"""Pictures of measured data, drawn without a screen.

Why ``Figure`` and not ``pyplot``: pyplot keeps global state and a global backend;
a library that calls it can break a notebook's backend or leak figures in a long run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

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


def plot_columns(
    data: Mapping[str, npt.NDArray[np.float64]],
    path: str | os.PathLike[str],
    *,
    x: str,
    y: str,
    units: Mapping[str, str],
    title: str,
) -> None:
    """Column ``y`` against column ``x``, labelled with their units, saved as PNG.

    Markers show each point while there are few enough to tell apart (an IV sweep's
    41 points); a long trace is drawn as a line.
    """
    figure, axes = agg_figure()
    xs, ys = np.asarray(data[x]), np.asarray(data[y])
    axes.plot(xs, ys, "o-" if len(xs) <= MARKED_POINTS else "-", markersize=3, linewidth=1)
    label_axes(axes, x, y, units)
    axes.set_title(f"{title} ({len(xs)} points)")
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
