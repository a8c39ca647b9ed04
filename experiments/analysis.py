"""CPU-heavy analysis in other processes, with arrays handed over in shared memory.

Why processes: threads share one GIL, so an FFT in a thread slows the acquisition and
uses one core. Why shared memory: pickling a 100 MB array through a pipe copies it
twice; a shared segment is written once and mapped by the worker.

Ownership: the submitting side creates each segment and takes it back when the future
is done — by result, exception, cancellation or a crashed worker (a done-callback runs
in every case); ``close()`` unlinks every segment, in use or kept. Workers only attach
and detach. Instruments never cross the process boundary; only numpy data does.

Why segments are kept for reuse (up to ``keep_bytes``): a fresh segment's pages are
faulted in and zeroed as the data is copied in — 32 ms for 32 MB here, against 2 ms
into a segment used before — and that copy runs in the caller, one job after another.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import numpy.typing as npt

from .spectrum import Spectrum, power_spectrum

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedRef:
    """What a worker needs to find an array: picklable, a few bytes."""

    name: str
    shape: tuple[int, ...]
    dtype: str


class SharedArray:
    """The owner's side of one segment: created with the data, unlinked by ``close()``.

    ``capacity`` makes room for larger arrays later: ``load()`` copies a new array
    into the same segment (only the pages written are ever allocated).
    """

    def __init__(self, array: npt.ArrayLike, *, capacity: int = 0) -> None:
        data = np.ascontiguousarray(array)
        self._shm = shared_memory.SharedMemory(create=True, size=max(data.nbytes, capacity, 1))
        self.capacity = self._shm.size
        self._closed = False
        self._lock = threading.Lock()
        self.ref = self.load(data)

    def load(self, array: npt.ArrayLike) -> SharedRef:
        """Copy ``array`` in (no worker may be reading it); the ref a worker needs."""
        data = np.ascontiguousarray(array)
        if data.nbytes > self.capacity:
            raise ValueError(f"{data.nbytes} bytes do not fit a {self.capacity} byte segment")
        np.ndarray(data.shape, data.dtype, buffer=self._shm.buf)[...] = data
        self.ref = SharedRef(self._shm.name, tuple(data.shape), data.dtype.str)
        return self.ref

    def close(self) -> None:
        """Detach and unlink (idempotent, thread-safe: done-callbacks may race close())."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._shm.close()
        with suppress(FileNotFoundError):
            self._shm.unlink()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def attached(ref: SharedRef) -> Iterator[npt.NDArray[Any]]:
    """The worker's read-only view of a segment; it never unlinks (the owner does)."""
    shm = shared_memory.SharedMemory(name=ref.name)
    try:
        view: npt.NDArray[Any] = np.ndarray(ref.shape, np.dtype(ref.dtype), buffer=shm.buf)
        view.flags.writeable = False
        yield view
    finally:
        del view  # the buffer cannot be released while a view exports it
        shm.close()


def call_with_shared(ref: SharedRef, fn: Callable[..., Any], *args: Any) -> Any:
    """Runs in a worker: ``fn(array, *args)`` on the array that lives in shared memory."""
    with attached(ref) as array:
        return fn(array, *args)


def _capacity_for(nbytes: int) -> int:
    """Segment sizes come in powers of two (>= 64 KiB), so similar jobs share segments."""
    return max(64 * 1024, 1 << max(nbytes - 1, 0).bit_length())


class AnalysisPool:
    """Submit analysis, get futures; runs on any ``concurrent.futures.Executor``.

    By default a local process pool (``start_method`` spawn: safe with threads and
    instruments in the parent; forkserver works too). Pass any executor — e.g. dask's
    ``Client.get_executor()`` — and arrays travel by value, since shared memory does
    not reach other machines. Segments of finished jobs are kept for the next ones, at
    most ``keep_bytes`` of them (0: unlink each as its job ends). At most
    ``in_flight_bytes`` of segments are in use at once: a submit beyond that waits for
    a job to end (so a fast producer cannot fill ``/dev/shm``, and the next job reuses
    the finished one's segment); one job larger than the bound still runs alone.
    """

    def __init__(
        self,
        executor: Executor | None = None,
        *,
        max_workers: int | None = None,
        start_method: str = "spawn",
        keep_bytes: int = 256 * 2**20,
        in_flight_bytes: int = 1024 * 2**20,
    ) -> None:
        self._owned = executor is None
        if executor is None:
            context = multiprocessing.get_context(start_method)
            executor = ProcessPoolExecutor(max_workers or os.cpu_count() or 1, mp_context=context)
        self.executor = executor
        self.shares_memory = isinstance(executor, ProcessPoolExecutor)
        self.keep_bytes = keep_bytes
        self.in_flight_bytes = in_flight_bytes
        self._outstanding: set[SharedArray] = set()
        self._kept: dict[int, list[SharedArray]] = {}  # capacity -> segments free for reuse
        self._closing = False
        self._lock = threading.Condition()

    def spectrum(self, traces: npt.ArrayLike, sample_rate: float, window: str = "hann") -> Future[Spectrum]:
        """Power spectrum (one trace, or the average of rows) computed in a worker."""
        return self.submit_array(power_spectrum, traces, sample_rate, window)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Any picklable function, for analysis beyond spectra."""
        return self.executor.submit(fn, *args, **kwargs)

    def submit_array(self, fn: Callable[..., Any], array: npt.ArrayLike, /, *args: Any) -> Future[Any]:
        """``fn(array, *args)`` in a worker, the array handed over in shared memory.

        ``fn`` must be picklable (a module-level function) and must not keep the
        array (a read-only view of the segment) beyond its return.
        """
        if not self.shares_memory:
            return self.executor.submit(fn, np.asarray(array), *args)
        data = np.ascontiguousarray(array)
        size = _capacity_for(data.nbytes)
        with self._lock:
            self._lock.wait_for(
                lambda: (
                    self._closing
                    or not self._outstanding
                    or self._bytes_in_use() + size <= self.in_flight_bytes
                )
            )
            if self._closing:
                raise RuntimeError("the analysis pool is closed")
            kept = self._kept.get(size)
            shared = kept.pop() if kept else None
            if shared is not None:
                self._outstanding.add(shared)  # counted as in use from here
        try:
            if shared is None:
                shared = SharedArray(data, capacity=size)
                with self._lock:
                    self._outstanding.add(shared)
            else:
                shared.load(data)
        except BaseException:
            if shared is not None:
                self._release(shared)
            raise
        try:
            future = self.executor.submit(call_with_shared, shared.ref, fn, *args)
        except BaseException:
            self._release(shared)
            raise
        future.add_done_callback(lambda _: self._release(shared))
        return future

    def _release(self, shared: SharedArray) -> None:
        """The job is over (the worker has detached): keep the segment or unlink it."""
        with self._lock:
            if not self._closing and shared.capacity + self._kept_bytes() <= self.keep_bytes:
                self._kept.setdefault(shared.capacity, []).append(shared)
                self._outstanding.discard(shared)
                self._lock.notify_all()
                return
        shared.close()  # unlinked before it stops counting as in use
        with self._lock:
            self._outstanding.discard(shared)
            self._lock.notify_all()

    def _kept_bytes(self) -> int:  # with self._lock held
        return sum(size * len(free) for size, free in self._kept.items())

    def _bytes_in_use(self) -> int:  # with self._lock held
        return sum(shared.capacity for shared in self._outstanding)

    @property
    def segments(self) -> int:
        """Segments in use by jobs (0 once every done-callback has run, and after close())."""
        with self._lock:
            return len(self._outstanding)

    @property
    def kept(self) -> int:
        """Segments of finished jobs kept for reuse (0 after close())."""
        with self._lock:
            return sum(len(free) for free in self._kept.values())

    def close(self, *, cancel: bool = True) -> None:
        """Shut the pool down (if it is ours) and unlink every segment, in use or kept."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self._owned:
            self.executor.shutdown(wait=True, cancel_futures=cancel)
        with self._lock:
            left = [*self._outstanding, *(s for free in self._kept.values() for s in free)]
            self._outstanding.clear()
            self._kept.clear()
        for shared in left:
            shared.close()

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
