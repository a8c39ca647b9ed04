"""Power spectra in worker processes vs threads vs one after another.

Threads share one GIL, so Python-heavy analysis in a thread competes with the
acquisition; worker processes each have their own interpreter. Arrays reach the
workers through shared memory (no pickled copies); the segments are unlinked when
each result is back. Which wins depends on the work per byte: numpy's FFT releases
the GIL in part, so threads help too, and moving the data costs the pool time.
Measure on your machine: `python -m bench --only fft`.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from labrun.analysis.pool import AnalysisPool
from labrun.analysis.spectrum import power_spectrum


def main() -> None:
    rng = np.random.default_rng(0)
    sample_rate = 10e3
    t = np.arange(2**16) / sample_rate
    jobs = [np.sin(2 * np.pi * (50 + 10 * k) * t) + rng.normal(size=(4, t.size)) for k in range(8)]
    workers = os.cpu_count() or 1

    start = time.perf_counter()
    serial = [power_spectrum(job, sample_rate) for job in jobs]
    print(f"serial:            {time.perf_counter() - start:.3f} s")

    with ThreadPoolExecutor(workers) as threads:
        start = time.perf_counter()
        threaded = list(threads.map(lambda job: power_spectrum(job, sample_rate), jobs))
        print(f"{workers} threads:         {time.perf_counter() - start:.3f} s")

    with AnalysisPool(max_workers=workers) as pool:  # spawned worker processes
        pool.spectrum(jobs[0], sample_rate).result()  # let the workers start first
        start = time.perf_counter()
        futures = [pool.spectrum(job, sample_rate, window="hann") for job in jobs]
        pooled = [f.result() for f in futures]
        print(f"{workers} processes:       {time.perf_counter() - start:.3f} s")
    print(f"shared memory segments left after the pool closed: {pool.segments}")

    same = all(
        np.allclose(a.power, b.power) and np.allclose(a.power, c.power)
        for a, b, c in zip(serial, threaded, pooled, strict=True)
    )
    print(f"same spectra all three ways: {same}")
    print("peaks (Hz):", [round(s.peak()) for s in pooled])


if __name__ == "__main__":  # needed: worker processes are spawned and import this file
    main()
