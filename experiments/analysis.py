"""CPU-heavy analysis in other processes, with arrays handed over in shared memory.

Why processes: threads share one GIL, so an FFT in a thread slows the acquisition and
uses one core. Why shared memory: pickling a 100 MB array through a pipe copies it
twice; a shared segment is written once and mapped by the worker.

Ownership: the submitting side creates each segment and unlinks it when the future is
done — by result, exception, cancellation or a crashed worker (a done-callback runs in
every case); ``close()`` unlinks whatever is left. Workers only attach and detach.
Instruments never cross the process boundary; only numpy data does.
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
    """The owner's side of one segment: created with the data, unlinked by ``close()``."""

    def __init__(self, array: npt.ArrayLike) -> None:
        data = np.ascontiguousarray(array)
        self._shm = shared_memory.SharedMemory(create=True, size=max(data.nbytes, 1))
        np.ndarray(data.shape, data.dtype, buffer=self._shm.buf)[...] = data
        self.ref = SharedRef(self._shm.name, tuple(data.shape), data.dtype.str)
        self._closed = False
        self._lock = threading.Lock()

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


def spectrum_of_shared(ref: SharedRef, sample_rate: float, window: str) -> Spectrum:
    """Runs in a worker: the spectrum of a trace that lives in shared memory."""
    with attached(ref) as traces:
        return power_spectrum(traces, sample_rate, window)


class AnalysisPool:
    """Submit analysis, get futures; runs on any ``concurrent.futures.Executor``.

    By default a local process pool (``start_method`` spawn: safe with threads and
    instruments in the parent; forkserver works too). Pass any executor — e.g. dask's
    ``Client.get_executor()`` — and arrays travel by value, since shared memory does
    not reach other machines.
    """

    def __init__(
        self,
        executor: Executor | None = None,
        *,
        max_workers: int | None = None,
        start_method: str = "spawn",
    ) -> None:
        self._owned = executor is None
        if executor is None:
            context = multiprocessing.get_context(start_method)
            executor = ProcessPoolExecutor(max_workers or os.cpu_count() or 1, mp_context=context)
        self.executor = executor
        self.shares_memory = isinstance(executor, ProcessPoolExecutor)
        self._outstanding: set[SharedArray] = set()
        self._lock = threading.Lock()

    def spectrum(self, traces: npt.ArrayLike, sample_rate: float, window: str = "hann") -> Future[Spectrum]:
        """Power spectrum (one trace, or the average of rows) computed in a worker."""
        if not self.shares_memory:
            return self.executor.submit(power_spectrum, np.asarray(traces), sample_rate, window)
        return self._with_shared(traces, spectrum_of_shared, sample_rate, window)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Any picklable function, for analysis beyond spectra."""
        return self.executor.submit(fn, *args, **kwargs)

    def _with_shared(self, array: npt.ArrayLike, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        shared = SharedArray(array)
        with self._lock:
            self._outstanding.add(shared)
        try:
            future = self.executor.submit(fn, shared.ref, *args)
        except BaseException:
            self._release(shared)
            raise
        future.add_done_callback(lambda _: self._release(shared))
        return future

    def _release(self, shared: SharedArray) -> None:
        shared.close()
        with self._lock:
            self._outstanding.discard(shared)

    @property
    def segments(self) -> int:
        """Shared segments not yet unlinked (0 once every done-callback has run, and after close())."""
        with self._lock:
            return len(self._outstanding)

    def close(self, *, cancel: bool = True) -> None:
        """Shut the pool down (if it is ours) and unlink every segment left."""
        if self._owned:
            self.executor.shutdown(wait=True, cancel_futures=cancel)
        with self._lock:
            left = list(self._outstanding)
            self._outstanding.clear()
        for shared in left:
            shared.close()

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
