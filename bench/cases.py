"""The benchmarks of a run's own cost: per point against a raw pyvisa loop, and as runs grow.

Each measures labrun and a baseline in the same process and run (the twin's answers:
``twin_cases``; watching and stopping a run: ``watch_cases``).

Why in the same run: these machines are noisy; a ratio of two numbers taken side by
side means something, a number against last week's does not. Each case repeats its
measurement and keeps the best (least disturbed) or the worst (for latencies), as said.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pyvisa

from labrun.drivers import open_sourcemeter
from labrun.experiments import Experiment, IVSweep, Point, Saving, start

from .result import Result, median_round

K2400 = "GPIB0::24::INSTR"


def _raw(address: str = K2400, library: str = "@labrun") -> Any:
    return pyvisa.ResourceManager(library).open_resource(
        address, read_termination="\n", write_termination="\n"
    )


def _per_call(fn: Callable[[int], object], n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) / n


# ----------------------------------------------------------- twin parse cost


def _raw_sweep(n: int, latency: float = 0.0) -> float:
    """Seconds per point of the baseline: a raw pyvisa write+query loop on the twin."""
    r = _raw()
    r.write(":FORM:ELEM VOLT,CURR;:SENS:CURR:PROT 0.01;:OUTP ON")
    if latency:
        _slowed(r, latency)
    return _per_call(lambda i: (r.write(f":SOUR:VOLT:LEV {i / n:.6E}"), r.query(":READ?")), n)


def _labrun_sweep(n: int, latency: float = 0.0) -> float:
    """Seconds per point of the same sweep run by labrun: runner, checks, data file."""
    with open_sourcemeter("keithley2400", K2400, sim=True) as smu, tempfile.TemporaryDirectory() as d:
        if latency:
            _slowed(smu.instrument.resource, latency)
        s = IVSweep(smu, start=0.0, stop=1.0, num_points=n, delay=0.0, compliance=0.01, save=Saving(d))
        t = time.perf_counter()
        start(s).result()
        return (time.perf_counter() - t) / n


def sweep_overhead(quick: bool) -> Result:
    """IV sweep, delay 0, run by the threaded runner with a data file, vs a raw pyvisa loop."""
    n = 300 if quick else 2000
    base, ours, spread = median_round([(_raw_sweep(n), _labrun_sweep(n)) for _ in range(5)])
    return Result(
        f"IV sweep per point ({n} points, file, runner)",
        ours * 1e6,
        base * 1e6,
        "µs",
        "raw pyvisa write+query loop",
        "≤ 1.10×",
        ours / base <= 1.10,
        f"each point confirmed via the error queue and written to disk; {spread}",
    )


def _slowed(resource: Any, latency: float) -> None:
    """Give the twin behind ``resource`` an instrument's latency per message."""
    twin = resource.visalib.sessions[resource.session].device
    original = twin.execute

    def execute(message: str) -> None:
        time.sleep(latency)
        original(message)

    twin.execute = execute


def slow_instrument_overhead(quick: bool) -> Result:
    """As above, with 2 ms of instrument latency per message (as GPIB/USB has): round trips count."""
    n = 50 if quick else 300
    base, ours = _raw_sweep(n, 0.002), _labrun_sweep(n, 0.002)
    return Result(
        "IV sweep per point, 2 ms instrument latency",
        ours * 1e6,
        base * 1e6,
        "µs",
        "raw pyvisa write+query loop",
        "≤ 1.10×",
        ours / base <= 1.10,
        "one checked message per point vs two messages",
    )


# ------------------------------------------------------------- live plot


class Counter(Experiment):
    """A trivial experiment: the framework's own per-point cost, no instrument."""

    name = "counter"
    columns = {"step": "", "a": "", "b": "", "c": "", "d": ""}  # noqa: RUF012

    def __init__(self, n: int) -> None:
        self.n = n
        super().__init__()

    def total_steps(self) -> int:
        return self.n

    def steps(self) -> Iterator[Point]:
        for i in range(self.n):
            yield {"step": i, "a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}


def scaling(quick: bool) -> list[Result]:
    """Per-point framework cost and memory at growing run lengths (5 columns of floats)."""
    sizes = (100, 10_000, 100_000) if quick else (100, 10_000, 1_000_000)
    results = []
    first: float | None = None
    # untimed: a process's first run imports the run catalog's database layer (~0.15 s, once)
    Counter(10).run()
    for n in sizes:
        t = time.perf_counter()
        Counter(n).run()
        per_point = (time.perf_counter() - t) / n
        tracemalloc.start()  # a second run: tracing costs ~10 us a point, more than the framework
        Counter(n).run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        first = first or per_point
        data_bytes = n * 5 * 8
        results.append(
            Result(
                f"framework per point, {n:,} points "
                f"(peak {peak / 1e6:.1f} MB, data {data_bytes / 1e6:.1f} MB)",
                per_point * 1e6,
                first * 1e6,
                "µs",
                "per point at 100 points",
                "flat; memory ≈ data",
                per_point <= 2 * first and peak <= 4 * data_bytes + 2e6,
            )
        )
    return results


CASES: dict[str, Callable[[bool], Result | list[Result]]] = {
    "overhead": sweep_overhead,
    "latency": slow_instrument_overhead,
    "scaling": scaling,
}
