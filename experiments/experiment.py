"""The experiment model: measurement logic with a running flag, a stop, and listeners.

An experiment knows nothing of threads: ``run()`` executes it in the caller's
thread; :func:`labrun.experiments.start` runs the very same ``run`` in a background
thread. What makes it stoppable and observable lives here:

- the **running flag**, claimed atomically: a second run raises :class:`AlreadyRunning`;
- the **device lock** of its instrument, held for the whole run and released in
  ``finally``: a second experiment on the same instrument waits, or gets ``DeviceBusy``;
- ``wait(seconds)`` is an interruptible wait: ``stop()`` ends it at once;
- each point is appended to a table any thread can snapshot, written to the data
  file, and handed to listeners, each in a thread of its own (``delivery.py``);
  ``progress`` is one immutable object, replaced per point.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from labrun.drivers import DeviceBusy, DeviceLock, LabrunError, SourceMeter

from . import delivery as delivery_module
from .data import DataFile, DataTable
from .delivery import Delivery, Listener, Point

logger = logging.getLogger(__name__)

State = Literal["idle", "waiting", "running", "done", "stopped", "failed"]

#: seconds a run waits, at its end, for its subscribers to take the last points
DELIVERY_GRACE = 2.0


class AlreadyRunning(LabrunError):
    """The experiment is running already; it cannot be started twice."""


@dataclass(frozen=True)
class Progress:
    """Where a run stands; replaced whole at each point, so reading it needs no lock."""

    state: State = "idle"
    step: int = 0
    total: int = 0
    latest: Point | None = None
    started: float | None = None  # time.monotonic() at the first step
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def remaining(self) -> float | None:
        """Estimated seconds left, from the mean time per step so far."""
        if not self.step or self.state != "running":
            return None
        return self.elapsed / self.step * (self.total - self.step)

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


@dataclass
class Saving:
    """Where and how a run's data file is written."""

    directory: str = "data"
    stem: str | None = None  # file name start; the experiment's name by default
    metadata: dict[str, Any] = field(default_factory=dict)


class Experiment:
    """Base class: subclasses give ``columns``, ``total_steps``, ``setup``, ``steps``, ``teardown``."""

    name: ClassVar[str] = "experiment"
    #: column name -> unit, in the order of each point (an instance may refine the units)
    columns: Mapping[str, str] = MappingProxyType({})
    #: the two columns a live plot draws, x then y
    plot_axes: ClassVar[tuple[str, str]] = ("step", "current")

    def __init__(self, instrument: SourceMeter | None = None, *, save: Saving | None = None) -> None:
        self.instrument = instrument
        self.save = save
        self.data_file: DataFile | None = None
        self.table = DataTable(tuple(self.columns))
        self.progress = Progress()
        self._listeners: list[Listener] = []
        self._deliveries: dict[Listener, Delivery] = {}
        #: threads that must never wait for this run's end (they would wait for themselves)
        self.own_threads: set[int] = set()
        self._stop = threading.Event()
        self.stop_reason = ""
        self._flag = threading.Lock()  # the running flag: held while running

    # ----------------------------------------------------------- what to measure

    def total_steps(self) -> int:
        raise NotImplementedError

    def setup(self) -> None:
        """Bring the instrument to its starting state."""

    def steps(self) -> Iterator[Sequence[float]]:
        """Yield one point per step (values in the order of ``columns``)."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Leave the instrument safe; runs however the run ends."""

    def describe(self) -> dict[str, Any]:
        """Parameters worth keeping in the data file."""
        return {}

    def after_point(self, point: Point) -> None:
        """Experiment logic after each recorded point, in the measuring thread (adaptive
        steps, a decision to stop). Subscribers are for watching; this is for measuring."""

    # -------------------------------------------------------------- observation

    @property
    def running(self) -> bool:
        return self._flag.locked()

    @property
    def device_lock(self) -> DeviceLock | None:
        """The lock of the instrument this experiment runs on (None without one)."""
        return self.instrument.instrument.device_lock if self.instrument is not None else None

    @property
    def data(self) -> dict[str, Any]:
        """Everything measured so far, as numpy arrays (a consistent snapshot)."""
        return self.table.snapshot()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(point)`` for each new point; returns the unsubscribe function.

        Each listener runs in a thread of its own, never in the measuring thread: a slow
        or blocked one cannot delay the measurement or a stop. At the end of a run it
        gets every point (within ``DELIVERY_GRACE`` s); one that falls 10,000 points
        behind loses the oldest, with a warning. One that raises is logged and dropped.
        """
        self._listeners.append(listener)
        if self.running and listener not in self._deliveries:
            self._deliveries[listener] = self._delivery(listener)
        return lambda: self._unsubscribe(listener)

    def _unsubscribe(self, listener: Listener) -> None:
        delivery = self._forget(listener)
        if delivery is not None:
            delivery.cancel()

    def _forget(self, listener: Listener) -> Delivery | None:
        if listener in self._listeners:
            self._listeners.remove(listener)
        return self._deliveries.pop(listener, None)

    def _delivery(self, listener: Listener) -> Delivery:
        delivery = Delivery(listener, self.name, on_failure=self._forget, capacity=delivery_module.CAPACITY)
        self.own_threads.add(delivery.thread.ident or 0)
        return delivery

    # ------------------------------------------------------------------ control

    def stop(self, reason: str = "") -> None:
        """Ask the run to end after the transaction in flight; returns at once.

        A ``reason`` (the instrument was closed, the program is ending) is reported, with
        how far the run got, when it has ended.
        """
        if reason and not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; True if a stop was requested."""
        if seconds <= 0:
            return self._stop.is_set()
        return self._stop.wait(seconds)

    def run(self, *, blocking: bool = True, timeout: float | None = None) -> dict[str, Any]:
        """Run to the end in this thread and return the data.

        ``blocking=False`` raises ``DeviceBusy`` at once if another experiment holds
        the instrument; otherwise wait (at most ``timeout`` seconds) for it.
        """
        self.claim()
        try:
            self.run_claimed(blocking=blocking, timeout=timeout)
        finally:
            self.release()
        return self.data

    # ---------------------------------------------- pieces the runner shares

    def claim(self) -> None:
        """Set the running flag, or raise :class:`AlreadyRunning`."""
        if not self._flag.acquire(blocking=False):
            raise AlreadyRunning(f"{self.name} is already running")
        self._stop.clear()
        self.stop_reason = ""
        self.own_threads = set()  # the last run's threads are gone; their ids may be reused
        self.table = DataTable(tuple(self.columns))
        self.progress = Progress(total=self.total_steps())

    def release(self) -> None:
        self._flag.release()

    def run_claimed(
        self, *, blocking: bool = True, timeout: float | None = None, locked: bool = False
    ) -> None:
        """The run once the flag is set: take the device lock (unless ``locked``), execute."""
        device = self.device_lock
        self.own_threads.add(threading.get_ident())
        if device is not None and not locked:
            if not self._acquire(blocking, timeout):
                self._publish(state="stopped")  # stopped while waiting its turn
                return
            locked = True
        exclusive = self.instrument is not None and self.instrument.instrument.lock_exclusive()
        try:
            self.execute()
        finally:
            if exclusive and self.instrument is not None:
                self.instrument.instrument.unlock_exclusive()
            if device is not None and locked:
                device.release()

    def _acquire(self, blocking: bool, timeout: float | None) -> bool:
        """Take the device lock; waiting stays stoppable. False if stopped first."""
        lock = self.device_lock
        assert lock is not None
        if not blocking:
            lock.acquire(self.owner(), blocking=False, stop=self.stop, user=self.instrument)
            return True
        self._publish(state="waiting")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            slice_ = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            try:
                lock.acquire(self.owner(), timeout=slice_, stop=self.stop, user=self.instrument)
                return True
            except DeviceBusy:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
        return False

    def owner(self) -> str:
        """How this run is named to whoever finds its instrument busy."""
        return f"{self.name} (run started {time.strftime('%H:%M:%S')} in process {os.getpid()})"

    def execute(self) -> None:
        """Data file, setup, steps, teardown; the file is open for exactly this span.

        The file is made before ``setup()`` switches anything on: a bad name, an
        unwritable directory or a full disk fail while the instrument is still off.
        A failed teardown fails the run (the output may still be on) and says so.
        """
        self._publish(state="running", started=time.monotonic())
        for listener in self._listeners:  # one subscribed since the claim has its delivery already
            if listener not in self._deliveries:
                self._deliveries[listener] = self._delivery(listener)
        failed: BaseException | None = None
        self.data_file = None  # not the last run's: a failure to open must not report it
        try:
            self.data_file = self._open_file()
            self.setup()
            for point in self.steps():
                self._record(point)
                if self._stop.is_set():
                    break
        except BaseException as error:
            failed = error
            error.add_note(
                f"{self.name}: failed at step {self.progress.step + 1} of {self.progress.total}{self._kept()}"
            )
        try:
            self.teardown()
        except BaseException as teardown_error:
            why = "; ".join([str(teardown_error), *getattr(teardown_error, "__notes__", ())])
            unsafe = f"{self.name}: shutting the instrument down failed ({why}): its output may still be on"
            logger.error("%s", unsafe)
            if failed is None:
                failed = teardown_error
            failed.add_note(unsafe)  # the first error stays the one raised; the teardown's rides along
        finally:
            if self.data_file is not None:
                self.data_file.close()
            for delivery in tuple(self._deliveries.values()):
                delivery.close(DELIVERY_GRACE)
            self._deliveries = {}
            state: State = "failed" if failed else "stopped" if self._stop.is_set() else "done"
            self._publish(state=state, finished=time.monotonic())
            if state == "stopped" and self.stop_reason:
                logger.warning("%s", self.report())
        if failed is not None:
            raise failed

    def report(self) -> str:
        """How far the run got and what it left, in one line (for messages at exit)."""
        p = self.progress
        why = f" ({self.stop_reason})" if self.stop_reason else ""
        return f"{self.name}: {p.state}{why} at step {p.step} of {p.total}{self._kept()}"

    def _kept(self) -> str:
        """What the data file holds, honestly: its rows, not the points measured."""
        if self.data_file is None:
            return ""
        measured, written = len(self.table), self.data_file.rows
        memory = "" if written == measured else f" ({measured} measured: run.data holds them all)"
        return f"; {written} points kept in {self.data_file.path}{memory}"

    # ------------------------------------------------------------------ private

    def _open_file(self) -> DataFile | None:
        if self.save is None:
            return None
        metadata: dict[str, Any] = {
            "experiment": self.name,
            "parameters": self.describe(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "software": f"labrun {software_version()}",
            "units": dict(self.columns),
        }
        if self.instrument is not None:
            metadata["instrument"] = {"model": self.instrument.model, "name": self.instrument.name}
            metadata["identity"] = self.instrument.identify()
        metadata.update(self.save.metadata)
        return DataFile.create(
            self.save.directory, self.save.stem or self.name, tuple(self.columns), metadata
        )

    def _record(self, values: Sequence[float]) -> None:
        self.table.append(values)
        if self.data_file is not None:
            self.data_file.write(values)
        point = dict(zip(self.columns, map(float, values), strict=True))
        p = self.progress  # built directly: dataclasses.replace costs ~7 us per point
        self.progress = Progress(p.state, p.step + 1, p.total, point, p.started, p.finished)
        for delivery in tuple(self._deliveries.values()):
            delivery.put(point)
        self.after_point(point)

    def _publish(self, **changes: Any) -> None:
        self.progress = dataclasses.replace(self.progress, **changes)


def software_version() -> str:
    """labrun's version from the package metadata (data files and ``labrun --version``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labrun")
    except PackageNotFoundError:
        return "unknown"
