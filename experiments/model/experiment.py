"""The experiment model: plain measurement logic, and how to ask it to run.

An experiment says what to measure: its ``columns`` (name -> unit), ``setup``, the
``steps`` (each yields one named point) and ``teardown``. It knows nothing of threads
or files: the run engine (``engine/``) claims it, takes its instrument's device lock,
saves and publishes its points; the experiment keeps only its last run, which the runner
claims.
``experiment.run()`` runs it in the caller's thread,
:func:`labrun.experiments.start` in the background; both are the same
:class:`~labrun.experiments.engine.Run`. What the experiment's own code needs of the
run: ``wait(seconds)`` (interrupted at once by a stop) and ``stop_requested``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from labrun.drivers import DeviceLock, SourceMeter

from ..engine import Listener, PauseMode, Point, Progress, Run, run_here
from ..storage import DataFile, DataTable, Saving

#: steps of the ramp back to a level after a safe pause (the shutdown ramps down in as many)
RAMP_STEPS = 10


class Experiment:
    """Base class: subclasses give ``columns``, ``total_steps``, ``setup``, ``steps``, ``teardown``."""

    name: str = "experiment"
    #: column name -> unit: the fields of each point (an instance may refine the units)
    columns: Mapping[str, str] = MappingProxyType({})
    #: the two columns a live plot draws, x then y
    plot_axes: tuple[str, str] = ("step", "current")
    #: columns whose values tell curves apart: a view draws one curve per combination
    family: tuple[str, ...] = ()
    #: a view also draws the current on a log axis (a transfer curve's subthreshold slope)
    log_current: bool = False

    def __init__(
        self,
        instrument: SourceMeter | None = None,
        *,
        save: Saving | None = None,
        instruments: Sequence[SourceMeter] = (),
    ) -> None:
        self.instrument = instrument
        #: every instrument a run of it holds (device locks taken all or nothing, in one
        #: global order, so two runs on the same instruments cannot deadlock)
        self.instruments = tuple(dict.fromkeys(i for i in (instrument, *instruments) if i is not None))
        self.save = save
        #: subscribed to every run of this experiment (``run.subscribe`` is for one run)
        self.listeners: list[Listener] = []
        self._last_run: Run | None = None
        #: during a safe pause: each instrument with the mode, level and output it had
        self._held: list[tuple[SourceMeter, str, float, bool]] = []

    # ----------------------------------------------------------- what to measure

    def total_steps(self) -> int:
        raise NotImplementedError

    def setup(self) -> None:
        """Bring the instrument to its starting state."""

    def steps(self) -> Iterator[Mapping[str, Any]]:
        """Yield one point per step: ``{column: value}`` for every column."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Leave the instrument safe; runs however the run ends."""

    def describe(self) -> dict[str, Any]:
        """Parameters worth keeping in the data file."""
        return {}

    def roles(self) -> dict[str, SourceMeter]:
        """Each instrument by what it is to the experiment (its record's snapshots are
        named so): ``instrument``, then ``instrument_2`` ... for more."""
        return {
            "instrument" if k == 0 else f"instrument_{k + 1}": smu for k, smu in enumerate(self.instruments)
        }

    # ------------------------------------------------------------------ pausing

    #: how a pause holds unless told: ``hold`` (the source stays at its level) or ``safe``
    pause_mode: PauseMode = "hold"

    def pause_refused(self) -> str:
        """Why this experiment cannot pause between two points ("": it can)."""
        return ""

    def to_safe_level(self) -> None:
        """A ``safe`` pause: every output ramped down and off, the last one switched on first
        (the drain before the gate), each one's mode and level kept for the resume."""
        drivers = list(self.roles().values())
        self._held = [(smu, smu.mode, smu.level, smu.output_enabled) for smu in drivers]
        for smu in reversed(drivers):
            smu.shutdown()

    def from_safe_level(self) -> None:
        """Back from a ``safe`` pause: each output that was on, on again at its level, in
        the order they went on (the gate before the drain); the next point follows."""
        for smu, mode, level, was_on in self._held:
            if was_on:  # as it was ramped down: on at zero, then up in ten steps
                source = smu.set_voltage if mode == "voltage" else smu.set_current  # its mode too
                source(0.0)
                smu.output_on()
                for k in range(1, RAMP_STEPS + 1):
                    source(level * k / RAMP_STEPS)
        self._held = []

    def after_point(self, point: Point) -> None:
        """Experiment logic after each recorded point, in the measuring thread (adaptive
        steps, a decision to stop). Subscribers are for watching; this is for measuring."""

    # ---------------------------------------------- what the steps may ask of the run

    def wait(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; True if a stop was requested."""
        run = self.last_run
        if run is None or not run.running:  # steps driven by hand, outside any run
            time.sleep(max(seconds, 0.0))
            return False
        return run.wait_stop(seconds)

    @property
    def stop_requested(self) -> bool:
        return self.last_run is not None and self.last_run.stop_requested

    # ------------------------------------------------ running it, and its last run

    @property
    def last_run(self) -> Run | None:
        """The current or last run: the running flag the runner asks (and sets through
        :meth:`claimed`) before it starts another."""
        return self._last_run

    def claimed(self, run: Run) -> None:
        """The runner has claimed this experiment for ``run`` (its running flag)."""
        self._last_run = run

    def run(
        self,
        *,
        blocking: bool = True,
        timeout: float | None = None,
        tags: Sequence[str] = (),
        note: str = "",
        catalog: str | None = None,
    ) -> dict[str, Any]:
        """Run to the end in this thread and return the data.

        ``blocking=False`` raises ``DeviceBusy`` at once if another experiment holds
        the instrument; otherwise wait (at most ``timeout`` seconds) for it. ``tags``,
        ``note``: for its record; ``catalog``: where the record is kept (``"none"``: none).
        """
        return run_here(self, blocking=blocking, timeout=timeout, tags=tags, note=note, catalog=catalog)

    def stop(self, reason: str = "") -> None:
        """Ask the current run to end; returns at once."""
        if self.last_run is not None:
            self.last_run.stop(reason)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(point)`` for each point of every run of this experiment,
        in a thread of its own (see :meth:`Run.subscribe`); returns the unsubscribe function."""
        self.listeners.append(listener)
        run = self.last_run
        if run is not None and run.running:
            run.subscribe(listener)

        def unsubscribe() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)
            if self.last_run is not None:
                self.last_run.unsubscribe(listener)

        return unsubscribe

    @property
    def running(self) -> bool:
        return self.last_run is not None and self.last_run.running

    @property
    def progress(self) -> Progress:
        return self.last_run.progress if self.last_run is not None else Progress()

    @property
    def table(self) -> DataTable:
        return self.last_run.table if self.last_run is not None else DataTable(tuple(self.columns))

    @property
    def data(self) -> dict[str, Any]:
        """Everything the last run measured so far, as numpy arrays (a consistent snapshot)."""
        return self.table.snapshot()

    @property
    def data_file(self) -> DataFile | None:
        return self.last_run.data_file if self.last_run is not None else None

    @property
    def device_lock(self) -> DeviceLock | None:
        """The lock of the instrument this experiment runs on (None without one)."""
        return self.instrument.device_lock if self.instrument is not None else None

    def report(self) -> str:
        """How far the last run got and what it left, in one line."""
        return self.last_run.report() if self.last_run is not None else f"{self.name}: idle"
