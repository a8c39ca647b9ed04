"""The shared-memory segments of an analysis pool: created by the submitting side, lent to
jobs and to arrays handed out, kept for reuse, bounded in flight, unlinked at the end.

Why a store of its own: who owns a segment at each moment (a job, an array handed out,
the shelf of kept ones) is the hard part of handing arrays to other processes; the pool
only decides what to send where.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
import numpy.typing as npt

from labrun.analysis.shared import SharedArray


def _capacity_for(nbytes: int) -> int:
    """Segment sizes come in powers of two (>= 64 KiB), so similar jobs share segments."""
    return max(64 * 1024, 1 << max(nbytes - 1, 0).bit_length())


class Segments:
    """Every segment of one pool: in use by jobs, lent under arrays, kept for reuse."""

    def __init__(self, keep_bytes: int, in_flight_bytes: int) -> None:
        self.keep_bytes = keep_bytes
        self.in_flight_bytes = in_flight_bytes
        self._outstanding: set[SharedArray] = set()
        #: segments under arrays handed out (``array()``, spectra's power), by the address of
        #: their data: back to the pool when the array and its views are gone
        self._lent: dict[int, SharedArray] = {}
        self._kept: dict[int, list[SharedArray]] = {}  # capacity -> segments free for reuse
        self._closing = False
        self._lock = threading.Condition()

    def lent_under(self, data: npt.NDArray[Any]) -> SharedArray | None:
        """The segment ``data`` was lent from, if it is an array this pool handed out."""
        return self._lent.get(data.__array_interface__["data"][0])

    def take(self, nbytes: int) -> SharedArray:
        """A segment for an array handed out: a kept one, or a new one; not counted in flight
        (the caller holds it as long as it likes, as it would an array of its own)."""
        size = _capacity_for(nbytes)
        with self._lock:
            if self._closing:
                raise RuntimeError("the analysis pool is closed")
            free = self._kept.get(size)
            if free:
                return free.pop()
        return SharedArray(np.empty(0), capacity=size)

    def lend(self, shared: SharedArray, array: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``array`` (a view of ``shared``) handed out: the segment comes back when it is gone."""
        address = array.__array_interface__["data"][0]
        with self._lock:
            self._outstanding.discard(shared)  # no longer a job's: the array's
            self._lent[address] = shared
            self._lock.notify_all()
        weakref.finalize(array, self._give_back, address, shared)
        return array

    def _give_back(self, address: int, shared: SharedArray) -> None:
        with self._lock:
            if self._lent.get(address) is not shared:
                return
            del self._lent[address]
            self._outstanding.add(shared)
        self.release(shared)

    def acquire(self, *nbytes: int) -> list[SharedArray]:
        """Segments for one job, counted as in use: kept ones reused, new ones created.

        All of a job's segments are waited for at once — waiting for a second while
        holding the first could wait forever on a lone job larger than the bound.
        """
        sizes = [_capacity_for(n) for n in nbytes]
        with self._lock:
            self._lock.wait_for(
                lambda: (
                    self._closing
                    or not self._outstanding
                    or self._bytes_in_use() + sum(sizes) <= self.in_flight_bytes
                )
            )
            if self._closing:
                raise RuntimeError("the analysis pool is closed")
            reused = [free.pop() if (free := self._kept.get(size)) else None for size in sizes]
            self._outstanding.update(shared for shared in reused if shared is not None)
        segments: list[SharedArray] = []
        try:
            for size, shared in zip(sizes, reused, strict=True):
                if shared is None:
                    shared = SharedArray(np.empty(0), capacity=size)
                    with self._lock:
                        self._outstanding.add(shared)
                segments.append(shared)
        except BaseException:
            self.release(*segments, *(shared for shared in reused if shared is not None))
            raise
        return segments

    def release(self, *segments: SharedArray) -> None:
        """The job is over (the worker has detached): keep its segments or unlink them."""
        for shared in dict.fromkeys(segments):  # each once, in order
            with self._lock:
                if not self._closing and shared.capacity + self._kept_bytes() <= self.keep_bytes:
                    self._kept.setdefault(shared.capacity, []).append(shared)
                    self._outstanding.discard(shared)
                    self._lock.notify_all()
                    continue
            shared.close()  # unlinked before it stops counting as in use
            with self._lock:
                self._outstanding.discard(shared)
                self._lock.notify_all()

    def _kept_bytes(self) -> int:  # with self._lock held
        return sum(size * len(free) for size, free in self._kept.items())

    def _bytes_in_use(self) -> int:  # with self._lock held
        return sum(shared.capacity for shared in self._outstanding)

    @property
    def in_use(self) -> int:
        """Segments in use by jobs (0 once every done-callback has run, and after close())."""
        with self._lock:
            return len(self._outstanding)

    @property
    def kept(self) -> int:
        """Segments of finished jobs kept for reuse (0 after close())."""
        with self._lock:
            return sum(len(free) for free in self._kept.values())

    def close(self) -> None:
        """No more segments; every one in use or kept unlinked; one under an array still in
        use (a spectrum's power) is unmapped when that array is gone."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()

    def unlink_all(self) -> None:
        with self._lock:
            left = [*self._outstanding, *(s for free in self._kept.values() for s in free)]
            lent = list(self._lent.values())
            self._outstanding.clear()
            self._kept.clear()
        for shared in left:
            shared.close()
        for shared in lent:  # under arrays still in use: unmapped when they are gone (_give_back)
            shared.unlink()
