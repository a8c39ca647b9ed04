"""The experiment model: measurement logic with a running flag, a stop, and listeners.

An experiment knows nothing of threads: ``run()`` executes it in the caller's
thread; :func:`labrun.experiments.start` runs the very same ``run`` in a background
thread. What makes it stoppable and observable lives here:

- the **running flag**, claimed atomically: a second run raises :class:`AlreadyRunning`;
- the **device lock** of its instrument, held for the whole run and released in
  ``finally``: a second experiment on the same instrument waits, or gets ``DeviceBusy``;
- ``wait(seconds)`` is an interruptible wait: ``stop()`` ends it at once;
- each point is appended to a table any thread can snapshot, written to the data
  file, and handed to listeners; ``progress`` is one immutable object, replaced per point.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from labrun.drivers import DeviceBusy, DeviceLock, LabrunError, SourceMeter

from .data import DataFile, DataTable

logger = logging.getLogger(__name__)

State = Literal["idle", "waiting", "running", "done", "stopped", "failed"]
Point = dict[str, float]
Listener = Callable[[Point], None]


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
        self._stop = threading.Event()
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

        Listeners run in the measuring thread: keep them short. One that raises is
        logged and dropped; it does not stop the measurement.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # ------------------------------------------------------------------ control

    def stop(self) -> None:
        """Ask the run to end after the transaction in flight; returns at once."""
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
        self.table = DataTable(tuple(self.columns))
        self.progress = Progress(total=self.total_steps())

    def release(self) -> None:
        self._flag.release()

    def run_claimed(
        self, *, blocking: bool = True, timeout: float | None = None, locked: bool = False
    ) -> None:
        """The run once the flag is set: take the device lock (unless ``locked``), execute."""
        device = self.device_lock
        if device is not None and not locked:
            if not self._acquire(blocking, timeout):
                self._publish(state="stopped")  # stopped while waiting its turn
                return
            locked = True
        try:
            self.execute()
        finally:
            if device is not None and locked:
                device.release()

    def _acquire(self, blocking: bool, timeout: float | None) -> bool:
        """Take the device lock; waiting stays stoppable. False if stopped first."""
        lock = self.device_lock
        assert lock is not None
        if not blocking:
            lock.acquire(self.name, blocking=False)
            return True
        self._publish(state="waiting")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            slice_ = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            try:
                lock.acquire(self.name, timeout=slice_)
                return True
            except DeviceBusy:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
        return False

    def execute(self) -> None:
        """Setup, steps, teardown; the data file is open for exactly this span."""
        self._publish(state="running", started=time.monotonic())
        failed: BaseException | None = None
        try:
            self.setup()
            self.data_file = self._open_file()
            for point in self.steps():
                self._record(point)
                if self._stop.is_set():
                    break
        except BaseException as error:
            failed = error
            kept = (
                ""
                if self.data_file is None
                else f"; {self.progress.step} points kept in {self.data_file.path}"
            )
            error.add_note(
                f"{self.name}: failed at step {self.progress.step + 1} of {self.progress.total}{kept}"
            )
            raise
        finally:
            try:
                self.teardown()
            except Exception as teardown_error:
                if failed is None:
                    raise
                # the original error stays the one raised; the teardown's rides along
                failed.add_note(f"teardown also failed: {teardown_error!r}")
                logger.error("%s: teardown failed after %r: %r", self.name, failed, teardown_error)
            finally:
                if self.data_file is not None:
                    self.data_file.close()
                state: State = "failed" if failed else "stopped" if self._stop.is_set() else "done"
                self._publish(state=state, finished=time.monotonic())

    # ------------------------------------------------------------------ private

    def _open_file(self) -> DataFile | None:
        if self.save is None:
            return None
        metadata: dict[str, Any] = {
            "experiment": self.name,
            "parameters": self.describe(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "software": f"labrun {_version()}",
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
        for listener in tuple(self._listeners):
            try:
                listener(point)
            except Exception:
                logger.exception("%s: listener %r failed and was removed", self.name, listener)
                self._listeners.remove(listener)

    def _publish(self, **changes: Any) -> None:
        self.progress = dataclasses.replace(self.progress, **changes)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labrun")
    except PackageNotFoundError:
        return "unknown"
