"""Arrays between processes in shared memory: written once, mapped by the worker.

Why: pickling a 100 MB array through a pipe copies it twice; a shared segment is written
once and mapped. The submitting side creates each segment and takes it back; workers
only attach and detach, and keep their mappings of reused segments (up to ``keep_bytes``)
so a reused segment is not mapped, faulted in and unmapped again for every job.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import numpy.typing as npt

from labrun.analysis.spectrum import Spectrum, power_spectrum
from labrun.drivers.locks import process_alive

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedRef:
    """What a worker needs to find an array: picklable, a few bytes."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    token: str = ""  # one per segment: a worker's kept mapping is found by it, never by name alone


class SharedArray:
    """The owner's side of one segment: created with the data, unlinked by ``close()``.

    ``capacity`` makes room for larger arrays later: ``load()`` copies a new array
    into the same segment (only the pages written are ever allocated).
    """

    def __init__(self, array: npt.ArrayLike, *, capacity: int = 0) -> None:
        data = np.ascontiguousarray(array)
        self._shm = shared_memory.SharedMemory(create=True, size=max(data.nbytes, capacity, 1))
        self.capacity = self._shm.size
        self._token = uuid.uuid4().hex  # names are reused by the OS once unlinked; tokens are not
        self._closed = False
        self._lock = threading.Lock()
        self.ref = self.load(data)

    def load(self, array: npt.ArrayLike) -> SharedRef:
        """Copy ``array`` in (no worker may be reading it); the ref a worker needs."""
        data = np.ascontiguousarray(array)
        if data.nbytes > self.capacity:
            raise ValueError(f"{data.nbytes} bytes do not fit a {self.capacity} byte segment")
        self.view(data.shape, data.dtype)[...] = data
        self.ref = self.reserve(data.shape, data.dtype)
        return self.ref

    def reserve(self, shape: tuple[int, ...], dtype: npt.DTypeLike) -> SharedRef:
        """A ref to room for an array a worker will write (its result), nothing copied."""
        if int(np.prod(shape)) * np.dtype(dtype).itemsize > self.capacity:
            raise ValueError(f"an array of shape {shape} does not fit a {self.capacity} byte segment")
        return SharedRef(self._shm.name, tuple(shape), np.dtype(dtype).str, self._token)

    def view(self, shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        """The owner's view of the start of the segment (valid until ``close()``)."""
        buffer = self._shm.buf
        if self._closed or buffer is None:  # numpy would quietly allocate fresh memory for None
            raise RuntimeError(f"shared segment {self._shm.name} is closed")
        return np.ndarray(shape, np.dtype(dtype), buffer=buffer)

    def close(self) -> None:
        """Detach and unlink (idempotent, thread-safe: done-callbacks may race close())."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._shm.close()
        self.unlink()

    def unlink(self) -> None:
        """Remove the segment's name (its memory goes when the last mapping does), keeping
        this process's mapping: for a segment under arrays still in use. Never unmap one:
        numpy keeps no buffer export, so its views would point at unmapped memory."""
        with suppress(FileNotFoundError):
            self._shm.unlink()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_mapped: OrderedDict[str, shared_memory.SharedMemory] = OrderedDict()  # token -> mapping, oldest first
_mapped_lock = threading.Lock()


@contextmanager
def attached(ref: SharedRef, *, keep_bytes: int = 0, writeable: bool = False) -> Iterator[npt.NDArray[Any]]:
    """The worker's view of a segment; it never unlinks (the owner does).

    With ``keep_bytes`` the mapping is kept for the next job on the same segment, the
    least recently used ones unmapped beyond that many bytes. A kept mapping of a segment
    its owner has since unlinked holds that memory until it is pushed out — so the bound
    is the pool's own ``keep_bytes``: what the owner keeps, the worker may keep.
    """
    with _mapped_lock:
        shm = _mapped.pop(ref.token, None) if ref.token else None
    if shm is None:
        shm = shared_memory.SharedMemory(name=ref.name)
    view: npt.NDArray[Any] | None = None
    try:
        view = np.ndarray(ref.shape, np.dtype(ref.dtype), buffer=shm.buf)
        view.flags.writeable = writeable
        yield view
    finally:
        view = None  # the buffer cannot be released while a view exports it
        _keep_or_close(ref.token, shm, keep_bytes)


def _keep_or_close(token: str, shm: shared_memory.SharedMemory, keep_bytes: int) -> None:
    closing = [shm]
    if token and shm.size <= keep_bytes:
        with _mapped_lock:
            _mapped[token] = shm
            closing.clear()
            while sum(m.size for m in _mapped.values()) > keep_bytes:
                closing.append(_mapped.popitem(last=False)[1])
    for mapping in closing:
        mapping.close()


def mappings_kept() -> int:
    """Bytes of segments this process keeps mapped (a worker's view of its reuse)."""
    with _mapped_lock:
        return sum(m.size for m in _mapped.values())


def unmap_kept() -> None:
    """Unmap every kept mapping (the segments themselves are their owner's to unlink)."""
    with _mapped_lock:
        closing = list(_mapped.values())
        _mapped.clear()
    for mapping in closing:
        mapping.close()


def exit_with_parent(parent: int, interval: float = 0.2) -> None:
    """Worker initializer: end this worker when the process that made it is gone.

    Why: a parent killed by SIGKILL cannot shut its pool down; its workers would live on,
    holding the resource tracker's pipe open, so the tracker never unlinks the shared
    memory and semaphores either. A worker watching its parent ends itself; then the
    tracker sees every pipe closed and cleans up. (A thread, not PR_SET_PDEATHSIG: that
    fires when the *thread* that spawned the worker ends, which may be any thread.)
    """

    spawned_by = os.getppid()  # the parent itself, or a fork server (start method 'forkserver')

    def watch() -> None:
        while os.getppid() == spawned_by and process_alive(parent):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="labrun-parent-watch", daemon=True).start()


def call_with_shared(ref: SharedRef, fn: Callable[..., Any], *args: Any, keep_bytes: int = 0) -> Any:
    """Runs in a worker: ``fn(array, *args)`` on the array that lives in shared memory."""
    with attached(ref, keep_bytes=keep_bytes) as array:
        return fn(array, *args)


def spectrum_into(
    ref: SharedRef, out: SharedRef, sample_rate: float, window: str, *, keep_bytes: int = 0
) -> Spectrum:
    """Runs in a worker: the power goes into the ``out`` segment, the rest comes back pickled."""
    with (
        attached(ref, keep_bytes=keep_bytes) as traces,
        attached(out, keep_bytes=keep_bytes, writeable=True) as power,
    ):
        # summed in place; nothing may hold a view of the segment once it is detached
        spectrum = power_spectrum(traces, sample_rate, window, out=power)
        spectrum = dataclasses.replace(spectrum, power=np.empty(0))
    return spectrum
