"""Views of runs: live plots (terminal, window, notebook), live spectra, saved images."""

from .live import follow, watch, window_open
from .plot import plot_columns, plot_spectrum

__all__ = ["follow", "plot_columns", "plot_spectrum", "watch", "window_open"]
