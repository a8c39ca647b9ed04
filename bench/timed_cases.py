"""IV sweeps on twins that take the instrument's time (``timing: realistic``), against the
instrument's own floor: the sum of the integration times and source delays.

Stepped: the host sets each level and reads (one round trip over the link a point);
hardware: the instrument steps through the list into its buffer, the host polls it.
The twin's time model (sim_devices/timing.py) adds a 0.1 ms overhead a reading and a
0.5 ms GPIB latency each way; those are not in the floor, so they show in the ratio.
"""

from __future__ import annotations

import time

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep
from labrun.sim_devices import realistic_bench, twin_of

from .result import Result

K2400 = "GPIB0::24::INSTR"
NPLCS = (0.01, 0.1, 1.0)


def timed_sweeps(quick: bool) -> list[Result]:
    """A 500-point IV (20 in quick mode) at each NPLC: stepped and hardware vs the floor."""
    points = 20 if quick else 500
    results = []
    for nplc in NPLCS:
        rounds = 1 if quick or nplc >= 1 else 3
        with open_sourcemeter("keithley2400", K2400, sim=realistic_bench()) as smu:
            smu.autozero = False  # type: ignore[attr-defined]  # one conversion a reading
            smu.nplc = nplc  # type: ignore[attr-defined]
            twin = twin_of(smu.instrument.resource)
            assert twin.timing is not None
            floor = points * nplc / float(twin.state[(1, "line_frequency")])
            round_trip = 2 * twin.timing.link_latency
            for kind in ("stepped", "hardware"):
                times = []
                for _ in range(rounds):
                    sweep = IVSweep(
                        smu,
                        start=0.0,
                        stop=1.0,
                        num_points=points,
                        compliance=0.01,
                        sweep=kind,
                        poll_interval=0.01,
                    )
                    began = time.perf_counter()
                    sweep.run()
                    times.append(time.perf_counter() - began)
                best = min(times)
                if kind == "hardware":
                    target, allowed = "≤ 1.2× the floor", 1.2 * floor
                else:
                    target, allowed = (
                        "≤ (floor + a round trip a point) × 1.1",
                        1.1 * (floor + points * round_trip),
                    )
                spread = (
                    f"{min(times) * 1e3:.0f}–{max(times) * 1e3:.0f} ms in {rounds} runs" if rounds > 1 else ""
                )
                results.append(
                    Result(
                        f"{points}-point IV, {kind}, NPLC {nplc:g} (realistic twin)",
                        best * 1e3,
                        floor * 1e3,
                        "ms",
                        "the instrument's floor: integration times",
                        target,
                        best <= allowed,
                        f"allowed {allowed * 1e3:.0f} ms; {spread}".rstrip("; "),
                    )
                )
    return results


CASES = {"timed": timed_sweeps}
