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
Workers keep their mappings of those segments too (the same ``keep_bytes`` bound), so a
reused segment is not mapped, faulted in and unmapped again for every job. Spectra come
back the same way, through a segment of their own, instead of pickled through a pipe.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from labrun.analysis.segments import Segments
from labrun.analysis.shared import call_with_shared, exit_with_parent, spectrum_into
from labrun.analysis.spectrum import Spectrum, power_spectrum

logger = logging.getLogger(__name__)


class _Forwarded(Future[Any]):
    """The caller's future for a job whose result is finished in the parent: cancelling
    it cancels the job (a plain Future would say "cancelled" while the job ran on)."""

    def __init__(self, job: Future[Any]) -> None:
        super().__init__()
        self._job = job

    def cancel(self) -> bool:
        return self._job.cancel()  # the job's done-callback then cancels this future


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
            executor = ProcessPoolExecutor(
                max_workers or os.cpu_count() or 1,
                mp_context=context,
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        self.executor = executor
        self.shares_memory = isinstance(executor, ProcessPoolExecutor)
        self.keep_bytes = keep_bytes
        self._segments = Segments(keep_bytes, in_flight_bytes)

    def array(self, shape: int | tuple[int, ...], dtype: npt.DTypeLike = np.float64) -> npt.NDArray[Any]:
        """An empty array in shared memory, for a producer to fill (an acquisition, a file
        reader): ``spectrum()`` of it, or of its leading rows, hands it to a worker with no
        copy. Its segment goes back to the pool when the array and every view of it are
        gone; do not change it while a job on it runs."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not self.shares_memory:
            return np.empty(shape, dtype)
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        shared = self._segments.take(nbytes)
        return self._segments.lend(shared, shared.view(shape, dtype))

    def spectrum(self, traces: npt.ArrayLike, sample_rate: float, window: str = "hann") -> Future[Spectrum]:
        """Power spectrum (one trace, or the average of rows) computed in a worker.

        Traces in an array from :meth:`array` are read where they are; others are copied
        into a segment first. The power comes back in a segment of its own and the
        result's ``power`` is a view of it, no copy (a 2^20-sample trace has a 4 MB
        spectrum: pickled through the pool's pipe it cost more than the FFT's input did);
        that segment goes back to the pool when the power array is gone.
        """
        data = np.ascontiguousarray(traces)  # as measured: int16 samples travel as int16
        if not self.shares_memory or data.ndim not in (1, 2) or data.shape[-1] < 2:
            return self.submit_array(power_spectrum, data, sample_rate, window)  # errors from the worker
        bins = data.shape[-1] // 2 + 1
        lent = self._segments.lent_under(data)
        if lent is not None and data.nbytes <= lent.capacity:
            (sink,) = self._segments.acquire(bins * 8)
            source = None  # the traces are where the producer put them
        else:
            source, sink = self._segments.acquire(data.nbytes, bins * 8)
        try:
            ref = source.load(data) if source is not None else lent.reserve(data.shape, data.dtype)  # type: ignore[union-attr]
            out = sink.reserve((bins,), np.float64)
            job = self.executor.submit(
                spectrum_into, ref, out, sample_rate, window, keep_bytes=self.keep_bytes
            )
        except BaseException:
            self._segments.release(*(s for s in (source, sink) if s is not None))
            raise
        result: Future[Spectrum] = _Forwarded(job)
        held = [data]
        # the job's callback must not keep the caller's future alive (a cycle through
        # _Forwarded._job would keep the spectrum, and its segment, until a gc pass)
        caller = weakref.ref(result)

        def finish(done: Future[Any]) -> None:
            lent = False
            try:
                future = caller()
                if done.cancelled():
                    if future is not None:
                        Future.cancel(future)
                    return
                try:
                    error = done.exception()
                    if error is None and future is not None:
                        power = self._segments.lend(sink, sink.view((bins,), np.float64))
                        lent = True
                        spectrum = dataclasses.replace(done.result(), power=power)
                except Exception as failure:  # e.g. closed under a job of an executor not ours
                    error = failure
                if future is None:  # nobody waits for it any more
                    return
                if error is None:
                    future.set_result(spectrum)
                else:
                    future.set_exception(error)  # never left pending: a caller would wait forever
            finally:
                if not lent:
                    self._segments.release(sink)
                if source is not None:
                    self._segments.release(source)
                held.clear()  # the producer's array, held while the worker read it

        job.add_done_callback(finish)
        return result

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
        (shared,) = self._segments.acquire(data.nbytes)
        try:
            ref = shared.load(data)
            future = self.executor.submit(call_with_shared, ref, fn, *args, keep_bytes=self.keep_bytes)
        except BaseException:
            self._segments.release(shared)
            raise
        future.add_done_callback(lambda _: self._segments.release(shared))
        return future

    @property
    def segments(self) -> int:
        """Segments in use by jobs (0 once every done-callback has run, and after close())."""
        return self._segments.in_use

    @property
    def kept(self) -> int:
        """Segments of finished jobs kept for reuse (0 after close())."""
        return self._segments.kept

    def close(self, *, cancel: bool = True) -> None:
        """Shut the pool down (if it is ours) and unlink every segment, in use or kept;
        one under an array still in use (a spectrum's power) is unmapped when it is gone."""
        self._segments.close()
        if self._owned:
            self.executor.shutdown(wait=True, cancel_futures=cancel)
        self._segments.unlink_all()

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
