"""Watching and stopping a run: live plots, stop latency, notifications, two runs at once.

Measured side by side with their baselines in one run (see ``cases``).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, start

from .cases import K2400, _slowed
from .result import Result, median_round


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


CASES: dict[str, Callable[[bool], Result | list[Result]]] = {
    "live": live_plot,
    "stop": stop_latency,
    "notify": notify_latency,
    "contention": contention,
}
