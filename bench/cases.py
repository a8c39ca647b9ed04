"""The benchmarks. Each measures labrun and a baseline in the same process and run.

Why in the same run: these machines are noisy; a ratio of two numbers taken side by
side means something, a number against last week's does not. Each case repeats its
measurement and keeps the best (least disturbed) or the worst (for latencies), as said.
"""

from __future__ import annotations

import functools
import pathlib
import statistics
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pyvisa

from labrun.drivers import open_sourcemeter
from labrun.experiments import Experiment, IVSweep, Point, Saving, start
from labrun.sim_devices.backend import HERE

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


FIVE = "+1.000000E+00,+1.000000E-03,+9.910000E+37,+1.234567E+01,+2.150400E+04"


def _static_bench(directory: str, read: str | None = None) -> str:
    """The 2400's pyvisa-sim file with static answers as long as the twin's, for each query
    (``read``: another answer to ``:READ?``, e.g. five elements)."""
    import yaml

    data = yaml.safe_load((HERE / "keithley2400.yaml").read_text())
    data.pop("scpi", None)
    dialogues = data["devices"]["keithley2400"]["dialogues"]
    if read is not None:
        dialogues[:] = [d for d in dialogues if d["q"] != ":READ?"] + [{"q": ":READ?", "r": read}]
    dialogues += [{"q": ":SOUR:VOLT?", "r": "+1.000000E+00"}, {"q": ":MEAS?", "r": FIVE}]
    path = pathlib.Path(directory) / f"static{'' if read is None else '_read'}.yaml"
    path.write_text(yaml.safe_dump(data))
    return f"{path}@sim"


def _ask(resource: Any, query: str, i: int) -> str:
    return str(resource.query(query))


def twin_read(quick: bool) -> list[Result]:
    """The twin's answer vs pyvisa-sim's static answer of the same length (same pyvisa path):
    one value, a two-element and a five-element :READ?, a five-element :MEAS?."""
    n = 500 if quick else 5000
    with tempfile.TemporaryDirectory() as directory:
        static = _raw(library=_static_bench(directory))
        static_five = _raw(library=_static_bench(directory, read=FIVE))
        twin = _raw()
        twin.write(":SENS:CURR:PROT 0.01;:SOUR:VOLT 1;:OUTP ON")
        rows = []
        five = ":FORM:ELEM VOLT,CURR,RES,TIME,STAT"
        for name, answering, static_query, setup, query in (
            ("one value (:SOUR:VOLT?)", static, ":SOUR:VOLT?", "", ":SOUR:VOLT?"),
            ("two-element :READ?", static, ":READ?", ":FORM:ELEM VOLT,CURR", ":READ?"),
            ("five-element :READ?", static_five, ":READ?", five, ":READ?"),
            ("five-element reading (:MEAS?)", static, ":MEAS?", five, ":MEAS?"),
        ):
            if setup:
                twin.write(setup)
            ask_static = functools.partial(_ask, answering, static_query)
            ask_twin = functools.partial(_ask, twin, query)
            pairs = [(_per_call(ask_static, n), _per_call(ask_twin, n)) for _ in range(5)]
            base, ours, spread = median_round(pairs)
            rows.append(
                Result(
                    f"twin answer per query: {name}",
                    ours * 1e6,
                    base * 1e6,
                    "µs",
                    "pyvisa-sim static answer, same length",
                    "≤ 1.5×",
                    ours / base <= 1.5,
                    spread,
                )
            )
    return rows


# ------------------------------------------------------ per-point overhead


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


def live_plot(quick: bool) -> list[Result]:
    """A sweep watched by a live plot (redrawn as a PNG every 0.2 s, labrun run --live's default)
    vs the same sweep unwatched: with 2 ms instrument latency, and with none (worst case)."""
    from labrun.experiments.views.live import LivePlot

    def sweep_time(latency: float, n: int, watched: bool) -> float:
        with open_sourcemeter("keithley2400", K2400, sim=True) as smu:
            if latency:
                _slowed(smu.instrument.resource, latency)
            run = start(IVSweep(smu, start=0.0, stop=1.0, num_points=n, compliance=0.01))
            t = time.perf_counter()
            if watched:
                live = LivePlot(run)
                while run.running:
                    if live.refresh():
                        live.png()
                    run.wait(0.2)
            run.result()
            return time.perf_counter() - t

    results = []
    for latency, n in ((0.002, 100 if quick else 500), (0.0, 1000 if quick else 20000)):
        pairs = [(sweep_time(latency, n, False), sweep_time(latency, n, True)) for _ in range(5)]
        base, ours, spread = median_round(pairs)
        results.append(
            Result(
                f"sweep watched by a live plot (PNG every 0.2 s), {latency * 1e3:g} ms latency",
                ours * 1e3,
                base * 1e3,
                "ms",
                "the same sweep unwatched",
                "≈ 1× (≤ 1.10×)" if latency else "measured",
                ours / base <= 1.10 if latency else True,
                (
                    "the plot reads snapshots; its redraw holds the GIL while the sweep waits on I/O"
                    if latency
                    else "no I/O wait: the redraw competes with the sweep for the GIL"
                )
                + f"; {spread}",
            )
        )
    return results


# ------------------------------------------------------------ stop latency


def stop_latency(quick: bool) -> Result:
    """Time from stop() to the run having ended, mid-way through a long delay."""
    delay = 1.0 if quick else 10.0
    latencies = []
    with open_sourcemeter("keithley2400", K2400, sim=True) as smu:
        for _ in range(3 if quick else 5):
            s = IVSweep(smu, start=0.0, stop=1.0, num_points=5, delay=delay, compliance=0.01)
            run = start(s)
            while not smu.output_enabled:  # until the first wait has begun
                time.sleep(0.001)
            time.sleep(0.05)
            t = time.perf_counter()
            run.stop()
            run.wait()
            latencies.append(time.perf_counter() - t)

    # baseline: the naive pattern, `while running: set; sleep(delay); measure`
    flag = {"running": True}
    started = threading.Event()

    def naive() -> None:
        while flag["running"]:
            started.set()
            time.sleep(delay)

    thread = threading.Thread(target=naive)
    thread.start()
    started.wait()
    time.sleep(0.05)
    t = time.perf_counter()
    flag["running"] = False
    thread.join()
    naive_latency = time.perf_counter() - t
    worst = max(latencies)
    return Result(
        f"stop latency, {delay:g} s between points (worst of {len(latencies)})",
        worst * 1e3,
        naive_latency * 1e3,
        "ms",
        "naive sleep(delay) loop",
        "≤ 50 ms",
        worst <= 0.05,
    )


# ------------------------------------------------------- poll/notify latency


def notify_latency(quick: bool) -> list[Result]:
    """Point measured -> a subscriber called / a poller at 10 ms sees it."""
    n = 50 if quick else 300
    interval = 0.010
    seen_by_subscriber: list[float] = []
    seen_by_poller: list[float] = []
    with open_sourcemeter("keithley2400", K2400, sim=True) as smu:
        s = IVSweep(smu, start=0.0, stop=1.0, num_points=n, delay=0.003, compliance=0.01)
        s.subscribe(lambda p: seen_by_subscriber.append(time.time() - p["timestamp"]))
        run = start(s)
        last = 0
        while run.running:
            p = run.progress
            if p.step > last and p.latest is not None:
                seen_by_poller.append(time.time() - p.latest["timestamp"])
                last = p.step
            time.sleep(interval)
    sub = statistics.median(seen_by_subscriber) * 1e3
    poll = statistics.median(seen_by_poller) * 1e3
    return [
        Result(
            "notify latency, subscriber (median)",
            sub,
            interval * 1e3,
            "ms",
            "poll interval",
            "≪ 1×",
            sub < 1.0,
        ),
        Result(
            "poll latency, poller every 10 ms (median)",
            poll,
            interval * 1e3,
            "ms",
            "poll interval",
            "≤ 1×",
            poll <= interval * 1e3,
        ),
    ]


# -------------------------------------------------------------- contention


def contention(quick: bool) -> Result:
    """Two sweeps on different instruments, in parallel vs one after another."""
    n = 40 if quick else 200
    delay = 0.003

    def make(smu: Any) -> IVSweep:
        return IVSweep(smu, start=0.0, stop=1.0, num_points=n, delay=delay, compliance=0.01)

    with (
        open_sourcemeter("keithley2400", K2400, sim=True) as a,
        open_sourcemeter("keithley2450", "GPIB0::18::INSTR", sim=True) as b,
    ):
        t = time.perf_counter()
        make(a).run()
        make(b).run()
        serial = time.perf_counter() - t
        t = time.perf_counter()
        runs = [start(make(a)), start(make(b))]
        for run in runs:
            run.result()
        parallel = time.perf_counter() - t
    return Result(
        f"two sweeps, {n} points, {delay * 1e3:g} ms delay: parallel",
        parallel * 1e3,
        serial * 1e3,
        "ms",
        "one after another",
        "≈ 0.5×",
        parallel / serial <= 0.6,
    )


# ----------------------------------------------------------------- scaling


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
    "twin": twin_read,
    "overhead": sweep_overhead,
    "latency": slow_instrument_overhead,
    "live": live_plot,
    "stop": stop_latency,
    "notify": notify_latency,
    "contention": contention,
    "scaling": scaling,
}
