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


def agg_figure() -> tuple[Figure, Axes]:
    """A figure on the Agg canvas: no pyplot, no global backend."""
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def plot_iv(
    data: Mapping[str, npt.NDArray[np.float64]],
    path: str | os.PathLike[str],
    *,
    title: str = "IV curve",
) -> None:
    """Current against voltage, as measured at the terminals, saved as PNG."""
    figure, axes = agg_figure()
    voltage, current = np.asarray(data["voltage"]), np.asarray(data["current"])
    axes.plot(voltage, current, "o-", markersize=3, linewidth=1)
    axes.set_xlabel("voltage (V)")
    axes.set_ylabel("current (A)")
    axes.set_title(f"{title} ({len(voltage)} points)")
    axes.grid(True, alpha=0.3)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    figure.tight_layout()
    figure.savefig(path, format="png")


def plot_trace(
    data: Mapping[str, npt.NDArray[np.float64]],
    path: str | os.PathLike[str],
    *,
    title: str = "time trace",
    column: str = "current",
) -> None:
    """One column against time, saved as PNG."""
    figure, axes = agg_figure()
    axes.plot(np.asarray(data["time"]), np.asarray(data[column]), linewidth=1)
    axes.set_xlabel("time (s)")
    axes.set_ylabel(f"{column} ({'A' if column == 'current' else 'V'})")
    axes.set_title(f"{title} ({len(data['time'])} points)")
    axes.grid(True, alpha=0.3)
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
