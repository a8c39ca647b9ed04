"""One run of an experiment: its whole lifecycle in one object.

A :class:`Run` claims the experiment's running flag (a second run raises
:class:`AlreadyRunning`), takes its instrument's device lock (waiting stays stoppable),
opens the data file before anything is switched on, executes setup, steps and teardown,
records each point (table, data file, then subscribers in threads of their own) and
ends in a ``concurrent.futures.Future``: ``run.result()``, ``await run`` and
``async for point in run.points()`` all read that one end.

The engine runs anything shaped like :class:`Procedure`; it never imports the
experiments that use it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import operator
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from concurrent.futures import Future
from typing import Any

from ..storage import DataFile, DataTable
from . import exits
from .claims import Locks, locks_of, release_all, take_all
from .delivery import Listener, Subscribers
from .procedure import AlreadyRunning, Procedure, metadata_of
from .progress import Point, Progress, State

logger = logging.getLogger(__name__)

#: seconds a run waits, at its end, for its subscribers to take the last points
DELIVERY_GRACE = 2.0

_claims = threading.Lock()  # makes "is it running? then it is mine" one step


class Run:
    """A handle on one run of an experiment, in the background or in the caller's thread."""

    def __init__(self, experiment: Procedure) -> None:
        self.experiment = experiment
        #: resolves to the data when the run ends, or to its exception (cancelled if dropped
        #: from a worker's queue before it started)
        self.future: Future[dict[str, Any]] = Future()
        self.table = DataTable(tuple(experiment.columns))
        #: where the run stands but for the count and the latest point, which are ``_count``
        self._stage = Progress(state="waiting")
        self._count: tuple[int, Point | None] = (0, None)
        self.data_file: DataFile | None = None
        #: the subscribers that keep each point, in the measuring thread, before anyone is
        #: told of it (one that fails fails the run): the table, and the data file if saved
        self.recorders: list[Callable[[tuple[Any, ...]], None]] = [self.table.append]
        self.stop_reason = ""
        #: threads that must never wait for this run's end (they would wait for themselves)
        self.own_threads: set[int] = set()
        self._names = tuple(experiment.columns)
        self._row_of = _row_getter(self._names)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._claimed = False
        self._error: BaseException | None = None
        self._subscribers = Subscribers(experiment.name, standing=experiment.listeners)

    # ------------------------------------------------------ what is polled

    @property
    def progress(self) -> Progress:
        """Where the run stands: one consistent snapshot, built when asked (a poller asks
        now and then; the measuring thread only swaps one tuple per point)."""
        stage = self._stage  # first: once it says the run ended, the count read next is final
        step, latest = self._count
        return Progress(stage.state, step, stage.total, latest, stage.started, stage.finished)

    @property
    def running(self) -> bool:
        """True until the run has ended (flag cleared, device lock released)."""
        return not self._done.is_set()

    @property
    def data(self) -> dict[str, Any]:
        """Everything measured so far, as numpy arrays (a consistent snapshot)."""
        return self.table.snapshot()

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def device_locks(self) -> Locks:
        """Every claimed instrument's lock (each once) with its driver, in one global order
        (by address): two runs claiming the same instruments in any order cannot deadlock."""
        return locks_of(self.experiment.instruments)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(point)`` for each point of this run; returns the unsubscribe function.

        Each listener runs in a thread of its own, never in the measuring thread: a slow
        or blocked one cannot delay the measurement or a stop. At the end of the run it
        gets every point (within ``DELIVERY_GRACE`` s); one that falls 10,000 points
        behind loses the oldest, with a warning. One that raises is logged and dropped.
        """
        self._subscribers.add(listener)
        return lambda: self.unsubscribe(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._subscribers.remove(listener)

    # ------------------------------------------------------------- control

    def stop(self, reason: str = "") -> None:
        """Ask the run to end after the transaction in flight; returns at once.

        A ``reason`` (the instrument was closed, the program is ending) is reported, with
        how far the run got, when it has ended.
        """
        if reason and not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()

    def wait_stop(self, seconds: float) -> bool:
        """The experiment's interruptible wait: True if a stop was requested. The rows
        measured so far go to the data file first (see ``Saving.write_interval``)."""
        if seconds <= 0:
            return self._stop.is_set()
        if self.data_file is not None:
            self.data_file.flush()
        return self._stop.wait(seconds)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end; True if it ended within ``timeout``.

        Interrupted (Ctrl-C, a Jupyter kernel interrupt), it stops the run, waits for the
        output to be turned off, and lets the KeyboardInterrupt go on.
        """
        self._refuse_own_thread("wait")
        try:
            return self._done.wait(timeout)
        except KeyboardInterrupt:
            exits.wait_stopping(self, "interrupted")
            raise

    def wait_unguarded(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

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
                yield self._named(row)
            if ended:
                return
            await asyncio.sleep(interval)

    def report(self) -> str:
        """How far the run got and what it left, in one line (for messages at exit)."""
        p = self.progress
        why = f" ({self.stop_reason})" if self.stop_reason else ""
        return f"{self.experiment.name}: {p.state}{why} at step {p.step} of {p.total}{self._kept()}"

    def owner(self) -> str:
        """How this run is named to whoever finds its instrument busy."""
        return f"{self.experiment.name} (run started {time.strftime('%H:%M:%S')} in process {os.getpid()})"

    def __repr__(self) -> str:
        p = self.progress
        return f"<Run {self.experiment.name} {p.state} {p.step}/{p.total}>"

    # ------------------------------------------------- the lifecycle, in order

    def claim(self) -> None:
        """Set the experiment's running flag for this run, or raise :class:`AlreadyRunning`."""
        with _claims:
            current = self.experiment.last_run
            busy = current is not None and current._claimed and current.running
            if not busy:
                self.experiment.last_run = self
                self._claimed = True
        if busy:
            refused = AlreadyRunning(f"{self.experiment.name} is already running")
            self._end(refused)
            raise refused
        try:
            self._stage = Progress(state="waiting", total=self.experiment.total_steps())
        except BaseException as error:
            self._end(error)
            raise

    def take_device(self, blocking: bool, timeout: float | None) -> bool:
        """Take every instrument's device lock, all or nothing, in the global order; waiting
        stays stoppable. False if stopped first (nothing is then held)."""
        return take_all(
            self.device_locks, self.owner(), self.stop, self._stop, blocking=blocking, timeout=timeout
        )

    def release_devices(self) -> None:
        """Every device lock, in the reverse order of taking them."""
        release_all(lock for lock, _ in self.device_locks)

    def body(self, *, blocking: bool = True, timeout: float | None = None, locked: bool = False) -> None:
        """Everything after the claim, in the calling thread; ends the run (never raises)."""
        try:
            self._locked_execute(blocking, timeout, locked)
        except BaseException as error:
            logger.debug("%s ended with %r", self.experiment.name, error)
            self._end(error)
        else:
            self._end(None)

    def _locked_execute(self, blocking: bool, timeout: float | None, locked: bool) -> None:
        self.own_threads.add(threading.get_ident())
        if not locked and not self.take_device(blocking, timeout):
            self._publish(state="stopped")  # stopped while waiting its turn
            return
        connections = dict.fromkeys(i.instrument for i in self.experiment.instruments)  # channels share one
        exclusive = [instrument for instrument in connections if instrument.lock_exclusive()]
        try:
            self._execute()
        finally:
            for instrument in reversed(exclusive):
                instrument.unlock_exclusive()
            self.release_devices()

    def _execute(self) -> None:
        """Data file, setup, steps, teardown; the file is open for exactly this span.

        The file is made before ``setup()`` switches anything on: a bad name, an
        unwritable directory or a full disk fail while the instrument is still off.
        A failed teardown fails the run (the output may still be on) and says so.
        """
        experiment = self.experiment
        self._publish(state="running", started=time.monotonic())
        self._subscribers.open()
        failed: BaseException | None = None
        try:
            self.data_file = self._open_file()
            if self.data_file is not None:
                self.recorders.append(self.data_file.write)
            experiment.setup()
            record, stop_asked = self._record, self._stop.is_set  # looked up once, not per point
            for point in experiment.steps():
                record(point)
                if stop_asked():
                    break
        except BaseException as error:
            failed = error
        failed = self._write_pending(failed)  # before the teardown, which may take long
        if failed is not None:
            p = self.progress
            at = f"at step {p.step + 1} of {p.total}" if p.step < p.total else f"after its {p.total} steps"
            failed.add_note(f"{experiment.name}: failed {at}{self._kept()}")
        try:
            experiment.teardown()
        except BaseException as teardown_error:
            why = "; ".join([str(teardown_error), *getattr(teardown_error, "__notes__", ())])
            unsafe = (
                f"{experiment.name}: shutting the instrument down failed ({why}): its output may still be on"
            )
            logger.error("%s", unsafe)
            if failed is None:
                failed = teardown_error
            failed.add_note(unsafe)  # the first error stays the one raised; the teardown's rides along
        finally:
            if self.data_file is not None:
                self.data_file.close()
            self._subscribers.close(DELIVERY_GRACE)
            state: State = "failed" if failed else "stopped" if self._stop.is_set() else "done"
            self._publish(state=state, finished=time.monotonic())
            if state == "stopped" and self.stop_reason:
                logger.warning("%s", self.report())
        if failed is not None:
            raise failed

    def _record(self, point: Mapping[str, Any]) -> None:
        """One point: to the recorders (table, data file), then progress and the subscribers."""
        try:
            row = self._row_of(point)
        except KeyError as missing:
            columns = ", ".join(self._names)
            raise ValueError(
                f"{self.experiment.name} gave a point without {missing} (its columns: {columns})"
            ) from None
        if len(point) != len(row):
            extra = sorted(set(point) - set(self._names))
            raise ValueError(f"{self.experiment.name} gave a point with unknown fields {extra}")
        for keep in self.recorders:
            keep(row)
        record = dict(zip(self._names, map(float, row), strict=False))  # as _named(row), a call less
        self._count = (self._count[0] + 1, record)
        if self._subscribers.current:
            self._subscribers.put(record)
        self.experiment.after_point(record)

    def _named(self, row: Any) -> Point:
        """A row as the point subscribers and pollers get: column name -> float."""
        return dict(zip(self._names, map(float, row), strict=False))  # made with one value per name

    def _end(self, error: BaseException | None) -> None:
        """Clear the flag (the run is over for everyone), then settle the future."""
        self._error = error
        self.table.close()
        self._done.set()
        exits.live_runs.discard(self)
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(self.data)

    def cancel(self) -> None:
        """Dropped from a queue before it started: ends as stopped, its future cancelled."""
        self._publish(state="stopped")
        self._done.set()
        self.future.cancel()

    # ------------------------------------------------------------- private

    def _open_file(self) -> DataFile | None:
        experiment = self.experiment
        if experiment.save is None:
            return None
        return experiment.save.open(experiment.name, experiment.columns, metadata_of(experiment))

    def _write_pending(self, failed: BaseException | None) -> BaseException | None:
        """The rows measured but not yet in the data file go there now; a failure to write
        them fails the run (or rides along with the error that ended it)."""
        if self.data_file is None:
            return failed
        try:
            self.data_file.flush()
        except BaseException as error:  # a lost file, a full disk, a Ctrl-C: the teardown comes next
            if failed is None:
                return error
            failed.add_note(f"{self.experiment.name}: writing its last rows failed: {error}")
        return failed

    def _kept(self) -> str:
        """What the data file holds, honestly: its rows, not the points measured."""
        if self.data_file is None:
            return ""
        measured, written = len(self.table), self.data_file.rows
        memory = "" if written == measured else f" ({measured} measured: run.data holds them all)"
        return f"; {written} points kept in {self.data_file.path}{memory}"

    def _refuse_own_thread(self, what: str) -> None:
        if not self._done.is_set() and threading.get_ident() in self.own_threads | self._subscribers.threads:
            raise RuntimeError(
                f"run.result() or run.{what}() called from inside {self.experiment.name}'s own run "
                "(a subscriber or its measuring thread) would wait for itself: poll run.progress there"
            )

    def _publish(self, **changes: Any) -> None:
        self._stage = dataclasses.replace(self._stage, **changes)


def _row_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``point -> (point[name], ...)`` in the columns' order, in C (``operator.itemgetter``)."""
    if len(names) == 1:  # itemgetter of one name gives the value, not a 1-tuple
        (name,) = names
        return lambda point: (point[name],)
    return operator.itemgetter(*names)
