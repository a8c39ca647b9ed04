"""Pictures of measured data, drawn without a screen.

Why ``Figure`` and not ``pyplot``: pyplot keeps global state and a global backend;
a library that calls it can break a notebook's backend or leak figures in a long run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_iv(
    data: Mapping[str, npt.NDArray[np.float64]],
    path: str | os.PathLike[str],
    *,
    title: str = "IV curve",
) -> None:
    """Current against voltage, as measured at the terminals, saved as PNG."""
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    voltage, current = np.asarray(data["voltage"]), np.asarray(data["current"])
    axes.plot(voltage, current, "o-", markersize=3, linewidth=1)
    axes.set_xlabel("voltage (V)")
    axes.set_ylabel("current (A)")
    axes.set_title(f"{title} ({len(voltage)} points)")
    axes.grid(True, alpha=0.3)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    figure.tight_layout()
    figure.savefig(path, format="png")
