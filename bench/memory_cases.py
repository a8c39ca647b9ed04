"""Moving analysis data between processes: shared memory against pickling, and a stream
bounded in bytes against an unbounded queue; each against its baseline in the same run."""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from labrun.analysis.shared import SharedArray, SharedRef, attached
from labrun.analysis.stream import BoundedStream, write_stream

from .result import Result

SPAWN = multiprocessing.get_context("spawn")


def _sum_shared(ref: SharedRef) -> float:
    with attached(ref) as view:
        return float(view.sum())


def _sum(array: Any) -> float:
    return float(np.sum(array))


def shared_vs_pickle(quick: bool) -> Result:
    """A 100 MB array to a worker and back a number: shared memory vs pickling through the queue."""
    n = (16 if quick else 100) * 2**20 // 8
    array = np.random.default_rng(1).normal(size=n)
    with ProcessPoolExecutor(1, mp_context=SPAWN) as executor:
        executor.submit(_sum, np.zeros(1)).result()  # worker started
        shared_times, pickled_times = [], []
        for _ in range(3):
            t = time.perf_counter()
            with SharedArray(array) as shared:
                executor.submit(_sum_shared, shared.ref).result()
            shared_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            executor.submit(_sum, array).result()
            pickled_times.append(time.perf_counter() - t)
    ours, base = min(shared_times), min(pickled_times)
    return Result(
        f"{array.nbytes / 2**20:.0f} MB array to a worker: shared memory",
        ours * 1e3,
        base * 1e3,
        "ms",
        "pickled through the pool's queue",
        "< 1×",
        ours < base,
        "shared: one copy into the segment; pickled: serialise, pipe, deserialise",
    )


def _rss() -> int:
    with open("/proc/self/statm") as fp:
        return int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def streaming(quick: bool) -> list[Result]:
    """2 GB of 8 MB frames to disk through a 64 MB stream: producer RSS and throughput."""
    frame = np.random.default_rng(2).integers(0, 2**16, size=2**20, dtype=np.uint64)  # 8 MB
    total = (256 if quick else 2048) * 2**20
    frames = total // frame.nbytes
    capacity = 64 * 2**20
    with tempfile.TemporaryDirectory(prefix="labrun-bench-") as folder:
        direct = pathlib.Path(folder) / "direct.bin"
        t = time.perf_counter()
        with open(direct, "wb") as fp:
            for _ in range(frames):
                fp.write(frame.tobytes())
            fp.flush()
            os.fsync(fp.fileno())
        direct_rate = total / (time.perf_counter() - t)
        direct.unlink()

        stream = BoundedStream(capacity, context=SPAWN)
        consumer = SPAWN.Process(target=write_stream, args=(stream, pathlib.Path(folder) / "stream.npy"))
        consumer.start()
        baseline, peak, done = _rss(), [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _rss())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        t = time.perf_counter()
        for _ in range(frames):
            stream.put(frame, timeout=60)
        stream.close()
        consumer.join()
        stream_rate = total / (time.perf_counter() - t)
        done.set()
        sampler.join()
    growth = (peak[0] - baseline) / 2**20
    return [
        Result(
            f"stream {total / 2**30:.2g} GB of 8 MB frames to disk: throughput",
            stream_rate / 2**20,
            direct_rate / 2**20,
            "MB/s",
            "writing the same bytes directly",
            "same order",
            stream_rate > 0.2 * direct_rate,
        ),
        Result(
            f"stream {total / 2**30:.2g} GB: producer memory growth",
            growth,
            capacity / 2**20,
            "MB",
            "stream capacity",
            "≤ capacity + 2 frames",
            growth <= capacity / 2**20 + 16 + 16,
        ),
    ]


CASES: dict[str, Callable[[bool], Result | list[Result]]] = {"shm": shared_vs_pickle, "stream": streaming}
