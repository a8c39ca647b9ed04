"""How a caller starts runs: now, in the background (:func:`start`), here (:func:`run_here`),
or queued on one background thread (:class:`Worker`) — all through the process's runner."""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from typing import Any

from . import exits
from .procedure import Procedure
from .recording import Documents, RecordOptions
from .run import Run
from .runner import RUNNER, Runner


class Worker:
    """Runs queued experiments one after another on one background thread."""

    def __init__(self, name: str = "labrun-worker", runner: Runner = RUNNER) -> None:
        self.runner = runner
        self._queue: collections.deque[Run] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self.current: Run | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        runner.queues.add(self)
        exits.install_signal_handlers()
        self._thread.start()

    def submit(self, experiment: Procedure, record: RecordOptions | None = None) -> Run:
        """Queue ``experiment``; its :class:`Run` is ``idle`` until its turn (``record``:
        what goes into its record, and where)."""
        with self._wake:
            if self._closing:
                raise RuntimeError("the worker is stopped")
            run = Run(experiment, record)
            self._queue.append(run)
            self._wake.notify()
        return run

    @property
    def queued(self) -> list[Procedure]:
        """Experiments waiting their turn, in order (the running one excluded)."""
        with self._wake:
            return [run.experiment for run in self._queue]

    def clear(self) -> list[Procedure]:
        """Drop everything not yet started; their runs end as stopped."""
        with self._wake:
            dropped = list(self._queue)
            self._queue.clear()
        for run in dropped:
            run.cancel()
        return [run.experiment for run in dropped]

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
                run = self._queue.popleft()
                self.current = run
                self.runner.live.add(run)
            try:
                self.runner.claim(run)
            except BaseException:
                pass  # the run has ended with the error: its future holds it
            else:
                self.runner.execute(run)
            with self._wake:
                self.current = None
                self._wake.notify_all()


def start(
    experiment: Procedure,
    *,
    blocking: bool = True,
    timeout: float | None = None,
    tags: Sequence[str] = (),
    note: str = "",
    catalog: str | None = None,
    documents: Documents | None = None,
) -> Run:
    """Start ``experiment`` in a background thread and return its :class:`Run` at once
    (:meth:`Runner.start` of the process's runner). ``tags`` and ``note`` go into its
    record; ``catalog``: where it is kept (a URL; None: ``$LABRUN_CATALOG`` or the default;
    ``"none"``: no catalog); ``documents``: ``callback(name, doc)`` gets the run as bluesky
    event-model documents as it runs."""
    options = RecordOptions(catalog=catalog, tags=tuple(tags), note=note, documents=documents)
    return RUNNER.start(experiment, blocking=blocking, timeout=timeout, record=options)


def run_here(
    experiment: Procedure,
    *,
    blocking: bool = True,
    timeout: float | None = None,
    tags: Sequence[str] = (),
    note: str = "",
    catalog: str | None = None,
) -> dict[str, Any]:
    """Run ``experiment`` to its end in the calling thread; its data, or its exception."""
    options = RecordOptions(catalog=catalog, tags=tuple(tags), note=note)
    return RUNNER.run_here(experiment, blocking=blocking, timeout=timeout, record=options)
