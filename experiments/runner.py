"""Run experiments in the background: ``start()`` returns at once with a :class:`Run`.

The run executes ``experiment.run_claimed`` — the same code as ``experiment.run()`` —
in a thread of its own; the flag is claimed in the caller's thread, so a double start
fails where it was attempted. A :class:`Worker` runs queued experiments one after
another on one thread. A run's end is a ``concurrent.futures.Future`` (``run.future``),
so asyncio code and Jupyter's top-level await can ``await run`` and
``async for point in run.points()``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import AsyncIterator, Callable, Generator
from concurrent.futures import Future
from typing import Any

from . import exits
from .data import DataTable
from .delivery import Listener, Point
from .experiment import Experiment, Progress

logger = logging.getLogger(__name__)


class Run:
    """A handle on one run of an experiment in the background."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        #: resolves to the data when the run ends, or to its exception (cancelled if dropped
        #: from a worker's queue before it started)
        self.future: Future[dict[str, Any]] = Future()
        #: the table this run fills (set when the run has claimed its experiment)
        self.table: DataTable | None = None

    # what a script, a plot or a notebook polls
    @property
    def running(self) -> bool:
        """True until the run has ended (flag cleared, device lock released)."""
        return not self._done.is_set()

    @property
    def progress(self) -> Progress:
        return self.experiment.progress

    @property
    def data(self) -> dict[str, Any]:
        return self.experiment.data

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.experiment.subscribe(listener)

    def stop(self, reason: str = "") -> None:
        """Ask the run to end; returns at once (``wait()`` to see it ended)."""
        self.experiment.stop(reason)

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

    def _refuse_own_thread(self, what: str) -> None:
        if not self._done.is_set() and threading.get_ident() in self.experiment.own_threads:
            raise RuntimeError(
                f"run.result() or run.{what}() called from inside {self.experiment.name}'s own run "
                "(a subscriber or its measuring thread) would wait for itself: poll run.progress there"
            )

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """The data once the run ended; re-raises the experiment's exception here."""
        if not self.wait(timeout):
            raise TimeoutError(f"{self.experiment.name} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self.experiment.data

    @property
    def error(self) -> BaseException | None:
        return self._error

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
            table = self.table
            if table is None:  # still queued in a worker: its table is not made yet
                if ended:
                    return
                await asyncio.sleep(interval)
                continue
            rows, seen_now = table.since(seen)
            names = table.columns
            for row in rows:
                yield dict(zip(names, map(float, row), strict=True))
            seen = seen_now
            if ended:
                return
            await asyncio.sleep(interval)

    def __repr__(self) -> str:
        p = self.progress
        return f"<Run {self.experiment.name} {p.state} {p.step}/{p.total}>"

    # the body, in the run's thread
    def _execute(self, blocking: bool, timeout: float | None, locked: bool) -> None:
        try:
            self.experiment.run_claimed(blocking=blocking, timeout=timeout, locked=locked)
        except BaseException as error:
            self._error = error
            logger.debug("%s ended with %r", self.experiment.name, error)
        finally:
            self.experiment.release()
            self._done.set()
            exits.live_runs.discard(self)
            if self._error is not None:
                self.future.set_exception(self._error)
            else:
                self.future.set_result(self.experiment.data)


def start(experiment: Experiment, *, blocking: bool = True, timeout: float | None = None) -> Run:
    """Start ``experiment`` in a background thread and return its :class:`Run` at once.

    Raises ``AlreadyRunning`` if it runs already. If another experiment holds the
    instrument, the run waits its turn (``blocking=True``, at most ``timeout`` s) or
    ``DeviceBusy`` is raised here at once (``blocking=False``).
    """
    if exits.ending.is_set():
        raise RuntimeError(f"not starting {experiment.name}: the program is ending")
    exits.install_signal_handlers()
    experiment.claim()
    lock = experiment.device_lock
    locked = False
    try:
        if not blocking and lock is not None:
            lock.acquire(experiment.owner(), blocking=False, stop=experiment.stop, user=experiment.instrument)
            locked = True
        run = Run(experiment)
        run.table = experiment.table
        thread = threading.Thread(
            target=run._execute,
            args=(blocking, timeout, locked),
            name=f"labrun-{experiment.name}",
            daemon=True,
        )
        run._thread = thread
        exits.live_runs.add(run)
        thread.start()
    except BaseException:
        if locked and lock is not None:
            lock.release()
        experiment.release()
        raise
    return run


class Worker:
    """Runs queued experiments one after another on one background thread."""

    def __init__(self, name: str = "labrun-worker") -> None:
        self._queue: collections.deque[tuple[Experiment, Run]] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self.current: Run | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        exits.workers.add(self)
        exits.install_signal_handlers()
        self._thread.start()

    def submit(self, experiment: Experiment) -> Run:
        """Queue ``experiment``; its :class:`Run` reports ``waiting`` until its turn."""
        with self._wake:
            if self._closing:
                raise RuntimeError("the worker is stopped")
            run = Run(experiment)
            self._queue.append((experiment, run))
            self._wake.notify()
        return run

    @property
    def queued(self) -> list[Experiment]:
        """Experiments waiting their turn, in order (the running one excluded)."""
        with self._wake:
            return [e for e, _ in self._queue]

    def clear(self) -> list[Experiment]:
        """Drop everything not yet started; their runs end as stopped."""
        with self._wake:
            dropped = list(self._queue)
            self._queue.clear()
        for _, run in dropped:
            run._done.set()
            run.future.cancel()
        return [e for e, _ in dropped]

    def stop(self, *, cancel_current: bool = True, timeout: float | None = None) -> bool:
        """Clear the queue, stop the running experiment (unless told not to), end the thread."""
        self.clear()
        with self._wake:
            self._closing = True
            self._wake.notify()
        current = self.current
        if cancel_current and current is not None:
            current.stop()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and nothing runs."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._queue and self.current is None, timeout)

    def _loop(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return  # closing and nothing left
                experiment, run = self._queue.popleft()
                self.current = run
                exits.live_runs.add(run)
            try:
                experiment.claim()
                run.table = experiment.table
            except BaseException as error:
                run._error = error
                run._done.set()
                run.future.set_exception(error)
            else:
                run._execute(blocking=True, timeout=None, locked=False)
            with self._wake:
                self.current = None
                self._wake.notify_all()
