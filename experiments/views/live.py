"""Watch a run while it measures: a live plot and a progress display.

Why polling: the measuring thread never waits for a plot. A watcher reads the run's
published progress and data snapshot (single references, no locks) at its own interval,
so a slow redraw costs the watcher time, never the sweep; points that arrive faster
than the refresh are all drawn at the next one, and a refresh with nothing new draws
nothing. Three watchers share :class:`LivePlot`:

- :func:`follow`: a terminal progress bar and, for ``labrun run --live``, a pyplot window;
- :func:`watch`: a notebook cell's picture and progress bar, refreshed from a background
  thread, so the notebook's next cells stay usable while the run goes on;
- your own loop: ``live.refresh()`` and draw the figure however you like.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from tqdm.auto import tqdm

from labrun.experiments.engine import Run
from labrun.experiments.views.plot import curve_figure, draw_curves, label_axes

if TYPE_CHECKING:
    from IPython.display import DisplayHandle

logger = logging.getLogger(__name__)


class LivePlot:
    """One run's data on a matplotlib figure; ``refresh()`` brings it up to date.

    ``x`` and ``y`` are column names (the experiment's ``plot_axes`` by default). An
    experiment with a ``family`` (a grid's outer axes) is drawn as one curve per outer
    step, with a legend; one with ``log_current`` gets a second panel, |y| on a log axis.
    Without a ``figure`` the plot draws on its own Agg figure, which needs no screen.
    """

    def __init__(
        self, run: Run, *, x: str | None = None, y: str | None = None, figure: Figure | None = None
    ) -> None:
        experiment = run.experiment
        default_x, default_y = experiment.plot_axes
        self.x, self.y = x or default_x, y or default_y
        for name in (self.x, self.y):
            if name not in experiment.columns:
                raise ValueError(
                    f"{experiment.name} has no column {name!r}; it has {list(experiment.columns)}"
                )
        self.run = run
        self.family = tuple(experiment.family)
        if figure is None:
            figure, panels = curve_figure(experiment.log_current)
        elif experiment.log_current:
            panels = [figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)]
        else:
            panels = [figure.axes[0] if figure.axes else figure.add_subplot()]
        self.figure, self.axes, self.panels = figure, panels[0], panels
        (self.line,) = self.axes.plot([], [], "o-", markersize=3, linewidth=1)
        label_axes(self.axes, self.x, self.y, experiment.columns)
        self.shown = 0  # points on the plot
        self.updates = 0  # refreshes that changed the picture
        self._state = ""

    def refresh(self) -> bool:
        """Put every point measured so far on the plot; False (and nothing done) if none is new."""
        progress = self.run.progress
        if progress.step == self.shown and progress.state == self._state:
            return False
        data = self.run.data  # may hold more points than progress.step: never fewer
        units = self.run.experiment.columns
        if self.family or len(self.panels) > 1:
            for panel, log in zip(self.panels, (False, True), strict=False):
                draw_curves(panel, data, x=self.x, y=self.y, units=units, family=self.family, log=log)
        else:  # one line: move its data (cheaper than drawing it anew)
            self.line.set_data(data[self.x], data[self.y])
            self.axes.relim()
            self.axes.autoscale_view()
        self.shown = len(data[self.x])
        self._state = progress.state
        self.axes.set_title(f"{self.run.experiment.name}: {progress.state}, {self.shown} of {progress.total}")
        self.updates += 1
        return True

    def png(self) -> bytes:
        """The figure as it stands, as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()


class ProgressDisplay:
    """A progress bar for a run: text in a terminal, a widget in a notebook (``tqdm.auto``).

    ``step_of``: ``(k, n)`` for the k-th run of a sequence of n, shown as ``[k/n]``."""

    def __init__(self, run: Run, *, step_of: tuple[int, int] | None = None, **tqdm_options: Any) -> None:
        self.run = run
        name = run.experiment.name + (f" [{step_of[0]}/{step_of[1]}]" if step_of else "")
        options = {"unit": "pt", "desc": name, **tqdm_options}
        self.bar = tqdm(total=run.progress.total, **options)
        self._shown = 0
        self._state = "running"

    def update(self) -> None:
        progress = self.run.progress
        if progress.step > self._shown:
            self.bar.update(progress.step - self._shown)
            self._shown = progress.step
        if progress.state != self._state and progress.state != "idle":
            self._state = progress.state  # claiming (its instrument), paused, completed, stopped, failed
            self.bar.set_postfix_str(progress.state, refresh=False)

    def close(self) -> None:
        self.update()
        self.bar.close()


def follow(
    run: Run,
    *,
    interval: float = 0.1,
    progress: bool = True,
    live: bool = False,
    step_of: tuple[int, int] | None = None,
) -> LivePlot | None:
    """Show progress (and, with ``live``, a pyplot window) until the run has ended;
    ``step_of``: the run's place in a sequence, ``(k, n)``, on the progress bar.

    The window's event loop runs between refreshes (``plt.pause``), so it stays
    responsive; closing it does not stop the run. Returns the live plot, whose figure
    shows the final state.
    """
    bar = ProgressDisplay(run, step_of=step_of, file=sys.stderr) if progress else None
    window = _window(run) if live else None
    try:
        while True:
            ended = not run.running  # read before refreshing: the last refresh sees the end
            if bar is not None:
                bar.update()
            showing = window is not None and (window_open(window) or not has_screen(window.figure))
            if showing and window is not None and window.refresh():
                window.figure.canvas.draw_idle()  # a window closed by the user is left alone
            if ended:
                return window
            if window is not None and window_open(window):
                import matplotlib.pyplot as plt

                plt.pause(interval)
            else:
                run.wait(interval)
    finally:
        if bar is not None:
            bar.close()


def _window(run: Run) -> LivePlot:
    import matplotlib.pyplot as plt

    figure = plt.figure(num=f"labrun: {run.experiment.name}")
    if not has_screen(figure):
        logger.warning(
            "no interactive matplotlib backend (%s): the live plot is not shown", plt.get_backend()
        )
    return LivePlot(run, figure=figure)


def has_screen(figure: Figure) -> bool:
    """True if the figure's canvas belongs to a window toolkit (not Agg, PDF, ...)."""
    return type(figure.canvas).required_interactive_framework is not None


def window_open(live: LivePlot) -> bool:
    """True while the live plot is in a window on screen that the user has not closed."""
    import matplotlib.pyplot as plt

    return has_screen(live.figure) and plt.fignum_exists(live.figure.number)


class NotebookView:
    """A live picture and a progress bar of a run in a notebook cell.

    A background thread refreshes them every ``interval`` seconds, so the cell returns
    at once and the next cells stay usable. The picture is a PNG rendered on an Agg
    figure (no widget backend needed) and replaced in place through an IPython display
    handle; it shows the final state when the run ends or is stopped.
    """

    def __init__(self, run: Run, *, interval: float = 0.5, progress: bool = True, **plot: Any) -> None:
        from IPython.display import display

        self.run = run
        self.interval = interval
        self.plot = LivePlot(run, **plot)
        self.plot.refresh()
        self.frames = 1
        self._handle: DisplayHandle | None = display(self._image(), display_id=True)
        self._bar = ProgressDisplay(run) if progress else None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="labrun-watch", daemon=True)
        self._thread.start()

    def _image(self) -> Any:
        from IPython.display import Image

        return Image(data=self.plot.png(), format="png")

    def _loop(self) -> None:
        try:
            while True:
                ended = not self.run.running
                if self._bar is not None:
                    self._bar.update()
                if self.plot.refresh() and self._handle is not None:
                    self._handle.update(self._image())
                    self.frames += 1
                if ended or self._closed.is_set():
                    return
                self.run.wait(self.interval)  # wakes at once when the run ends
        except Exception:
            logger.exception("live view of %s failed; the run goes on", self.run.experiment.name)
        finally:
            if self._bar is not None:
                self._bar.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended and the final picture is shown."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Stop refreshing (the run goes on)."""
        self._closed.set()


def watch(run: Run, *, interval: float = 0.5, progress: bool = True, **plot: Any) -> NotebookView:
    """In a notebook: show ``run`` live below the cell; returns at once."""
    return NotebookView(run, interval=interval, progress=progress, **plot)
