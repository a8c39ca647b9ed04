"""One run of an experiment, as its caller holds it: poll, subscribe, stop, wait, await.

A :class:`Run` is a handle on a lifecycle (``states.py``) that a :class:`~.runner.Runner`
drives; its end is a ``concurrent.futures.Future``, so ``run.result()``, ``await run`` and
``async for point in run.points()`` all read that one end. What the run holds while it
lives (locks, data file, subscribers) is its :class:`~.context.RunContext`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator
from concurrent.futures import Future
from typing import Any

from ..storage import DataFile, RunRecord
from .context import RunContext
from .delivery import Listener
from .pausing import PauseMode, PauseRefused, Pausing
from .procedure import Procedure
from .progress import Point, Progress
from .recorded import Recorded
from .recording import RecordOptions
from .states import Lifecycle, RunState

logger = logging.getLogger(__name__)

#: seconds the program waits, when it ends, for each run to shut its instrument down
EXIT_WAIT = 60.0


class Run:
    """A handle on one run of an experiment, in the background or in the caller's thread."""

    def __init__(self, experiment: Procedure, record: RecordOptions | None = None) -> None:
        self.experiment = experiment
        #: the run's id (UUID4), known from the start; its record (``recording.record``)
        #: once it runs
        self.run_id = str(uuid.uuid4())
        #: resolves to the data when the run ends, or to its exception (cancelled if dropped
        #: from a worker's queue before it started)
        self.future: Future[dict[str, Any]] = Future()
        self.lifecycle = Lifecycle(experiment.name)
        self.lifecycle.watch(self._published)
        self.context = RunContext(experiment, self.owner(), self.run_id, record)
        self.recorded = Recorded(experiment, self.context.subscribers)
        self.table = self.recorded.table
        #: one point to the table, the data file, the count, the subscribers (the hot path)
        self.add = self.recorded.add
        #: where the run stands but for the count and the latest point (``recorded.count``);
        #: replaced by the lifecycle's transitions only
        self._stage = Progress(state=RunState.IDLE)
        self.stop_reason = ""
        #: a pause asked, held, and every pause it had (``pause()``, ``resume()``)
        self.pausing = Pausing()
        #: threads that must never wait for this run's end (they would wait for themselves)
        self.own_threads: set[int] = set()
        self.stop_event = threading.Event()
        self._done = threading.Event()
        self._error: BaseException | None = None
        #: the experiment's steps, asked once when the run is claimed
        self.total = 0

    # ------------------------------------------------------ what is polled

    @property
    def state(self) -> RunState:
        return self.lifecycle.state

    @property
    def progress(self) -> Progress:
        """Where the run stands: one consistent snapshot, built when asked (a poller asks
        now and then; the measuring thread only swaps one tuple per point)."""
        stage = self._stage  # first: once it says the run ended, the count read next is final
        step, latest = self.recorded.count
        return Progress(stage.state, step, stage.total, latest, stage.started, stage.finished)

    @property
    def running(self) -> bool:
        """True until the run has ended (flag cleared, device locks released)."""
        return not self._done.is_set()

    @property
    def data(self) -> dict[str, Any]:
        """Everything measured so far, as numpy arrays (a consistent snapshot)."""
        return self.table.snapshot()

    @property
    def data_file(self) -> DataFile | None:
        return self.context.data_file

    @property
    def short_id(self) -> str:
        """What a person types: the run id's first 8 hex digits (``labrun runs show``)."""
        return self.run_id[:8]

    @property
    def record(self) -> RunRecord | None:
        """The run's record (its snapshot, then its end), once it has begun measuring."""
        return self.context.recording.record

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(point)`` for each point of this run; returns the unsubscribe function.

        Each listener runs in a thread of its own, never in the measuring thread: a slow
        or blocked one cannot delay the measurement or a stop. At the end of the run it
        gets every point (within ``DELIVERY_GRACE`` s); one that falls 10,000 points
        behind loses the oldest, with a warning. One that raises is logged and dropped.
        """
        self.context.subscribers.add(listener)
        return lambda: self.unsubscribe(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.context.subscribers.remove(listener)

    # ------------------------------------------------------------- control

    def stop(self, reason: str = "") -> None:
        """Ask the run to end after the transaction in flight; returns at once.

        A ``reason`` (the Stop button, a signal, the instrument was closed) is reported,
        with how far the run got, when it has ended.
        """
        if reason and not self.stop_event.is_set():
            self.stop_reason = reason
        self.stop_event.set()
        self.pausing.wake()  # a run paused ends from its pause

    def pause(self, mode: PauseMode | None = None, by: str = "run.pause()") -> None:
        """Pause after the point in progress: the source holds its level (``hold``), or every
        output is ramped down and off until the resume (``safe``); None: the experiment's
        own choice. An instrument-side sweep refuses (:class:`PauseRefused`)."""
        why = self.experiment.pause_refused()
        if not why and self.stop_requested:
            why = "it is stopping"
        elif not why and self.state not in (RunState.RUNNING, RunState.PAUSED):
            why = f"it has {self.state}" if self.lifecycle.ended else f"it is {self.state}, not measuring yet"
        if why:
            raise PauseRefused(f"{self.experiment.name} cannot pause: {why}")
        self.pausing.ask(mode or self.experiment.pause_mode, by)

    def resume(self, by: str = "run.resume()") -> None:
        """Go on with the next point (after a ``safe`` pause, with the outputs back on first)."""
        self.pausing.release(by)

    def wait_stop(self, seconds: float) -> bool:
        """The experiment's interruptible wait: True if a stop was requested. The rows
        measured so far go to the data file first (see ``Saving.write_interval``)."""
        if seconds <= 0:
            return self.stop_event.is_set()
        if self.context.data_file is not None:
            self.context.data_file.flush()
        return self.stop_event.wait(seconds)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end; True if it ended within ``timeout``.

        Interrupted (Ctrl-C, a Jupyter kernel interrupt), it stops the run, waits for the
        output to be turned off, and lets the KeyboardInterrupt go on.
        """
        self._refuse_own_thread("wait")
        try:
            return self._done.wait(timeout)
        except KeyboardInterrupt:
            self.stop_and_wait("interrupted")
            raise

    def wait_unguarded(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    def stop_and_wait(self, reason: str, timeout: float = EXIT_WAIT) -> None:
        """Stop and wait for the end; a second interrupt abandons the wait, loudly."""
        self.stop(reason)
        name = self.experiment.name
        try:
            if not self._done.wait(timeout):
                logger.error("%s: still running after %g s: its output state is unknown", name, timeout)
        except KeyboardInterrupt:
            logger.error("%s: interrupted again: not waiting; its output state is unknown", name)
            raise

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """The data once the run ended; re-raises the experiment's exception here."""
        if not self.wait(timeout):
            raise TimeoutError(f"{self.experiment.name} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self.data

    def __await__(self) -> Generator[Any, None, dict[str, Any]]:
        """``data = await run``: the data, or the run's exception, without blocking the loop."""
        return asyncio.wrap_future(self.future).__await__()

    async def points(self, interval: float = 0.05) -> AsyncIterator[Point]:
        """Every point of the run from the first, as they arrive, then the end.

        Polled every ``interval`` s from the run's table (a snapshot: never a point twice,
        never one missed); the run's exception, if any, comes from ``await run``.
        """
        seen = 0
        while True:
            ended = not self.running
            rows, seen = self.table.since(seen)
            for row in rows:
                yield self.recorded.named(row)
            if ended:
                return
            await asyncio.sleep(interval)

    def report(self) -> str:
        """How far the run got and what it left, in one line (for messages at exit)."""
        p = self.progress
        why = f" ({self.stop_reason})" if self.stop_reason else ""
        return f"{self.experiment.name}: {p.state}{why} at step {p.step} of {p.total}{self.kept()}"

    def owner(self) -> str:
        """How this run is named to whoever finds its instrument busy."""
        return f"{self.experiment.name} (run started {time.strftime('%H:%M:%S')} in process {os.getpid()})"

    def __repr__(self) -> str:
        p = self.progress
        return f"<Run {self.experiment.name} {p.state} {p.step}/{p.total}>"

    # --------------------------------------------- for the runner that drives it

    def enter(self, state: RunState) -> None:
        """The run's one way to change state (checked by its lifecycle)."""
        self.lifecycle.to(state)

    def end(self, error: BaseException | None) -> None:
        """Settle the future (the run is over for everyone); the state is ended already."""
        self._error = error
        self.table.close()
        self._done.set()
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(self.data)

    def cancel(self) -> None:
        """Dropped from a queue before it started: ends as stopped, its future cancelled.
        A run that has begun is not dropped: it is stopped (ramped down, output off)."""
        if self.state != RunState.IDLE:
            self.stop("cancelled")
            return
        self.lifecycle.to(RunState.STOPPED)
        self.table.close()
        self._done.set()
        self.future.cancel()

    def kept(self) -> str:
        """What the data file holds, honestly: its rows, not the points measured."""
        return self.context.kept(len(self.table))

    def _published(self, old: RunState, new: RunState) -> None:
        """The progress snapshot follows the lifecycle (its only publisher)."""
        self._stage = self._stage.entering(new, self.total)

    def _refuse_own_thread(self, what: str) -> None:
        threads = self.own_threads | self.context.subscribers.threads
        if not self._done.is_set() and threading.get_ident() in threads:
            raise RuntimeError(
                f"run.result() or run.{what}() called from inside {self.experiment.name}'s own run "
                "(a subscriber or its measuring thread) would wait for itself: poll run.progress there"
            )
