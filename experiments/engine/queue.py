"""Starting runs: here and now, in a background thread, or queued on a worker.

The flag is claimed in the caller's thread, so a double start fails where it was
attempted; the body runs in the run's thread (or, for ``run_here``, in this one).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

from . import exits
from .procedure import Procedure
from .run import Run


def run_here(experiment: Procedure, *, blocking: bool = True, timeout: float | None = None) -> dict[str, Any]:
    """Run ``experiment`` to its end in the calling thread; its data, or its exception."""
    run = Run(experiment)
    run.claim()
    run.body(blocking=blocking, timeout=timeout)
    return run.result()


def start(experiment: Procedure, *, blocking: bool = True, timeout: float | None = None) -> Run:
    """Start ``experiment`` in a background thread and return its :class:`Run` at once.

    Raises ``AlreadyRunning`` if it runs already. If another experiment holds the
    instrument, the run waits its turn (``blocking=True``, at most ``timeout`` s) or
    ``DeviceBusy`` is raised here at once (``blocking=False``).
    """
    if exits.ending.is_set():
        raise RuntimeError(f"not starting {experiment.name}: the program is ending")
    exits.install_signal_handlers()
    run = Run(experiment)
    run.claim()
    locked = False
    try:
        if not blocking:
            locked = run.take_device(blocking=False, timeout=None)
        thread = threading.Thread(
            target=run.body,
            kwargs={"blocking": blocking, "timeout": timeout, "locked": locked},
            name=f"labrun-{experiment.name}",
            daemon=True,
        )
        exits.live_runs.add(run)
        thread.start()
    except BaseException as error:
        if locked:
            run.release_devices()
        run._end(error)
        raise
    return run


class Worker:
    """Runs queued experiments one after another on one background thread."""

    def __init__(self, name: str = "labrun-worker") -> None:
        self._queue: collections.deque[Run] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self.current: Run | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        exits.workers.add(self)
        exits.install_signal_handlers()
        self._thread.start()

    def submit(self, experiment: Procedure) -> Run:
        """Queue ``experiment``; its :class:`Run` reports ``waiting`` until its turn."""
        with self._wake:
            if self._closing:
                raise RuntimeError("the worker is stopped")
            run = Run(experiment)
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
                exits.live_runs.add(run)
            try:
                run.claim()
            except BaseException:
                pass  # the run has ended with the error: its future holds it
            else:
                run.body(blocking=True, timeout=None, locked=False)
            with self._wake:
                self.current = None
                self._wake.notify_all()
