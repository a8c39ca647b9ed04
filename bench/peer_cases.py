"""labrun beside PyMeasure on the same twin, in the same rounds (``pip install -e ".[bench]"``).

PyMeasure 0.16's Procedure + Worker + Results (its Recorder thread writing the file)
drive the Keithley 2400 twin through PyMeasure's own driver; labrun's runner drives the
same twin with the same points. Each framework's per-point cost is taken over a raw
pyvisa loop that sends that framework's own strings, timed in the same round: the
difference is what the framework adds. Without PyMeasure installed the case says so and
reports nothing.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Iterator
from typing import Any

import pyvisa

from labrun.drivers import open_sourcemeter
from labrun.experiments import Experiment, IVSweep, Point, Saving, start
from labrun.sim_devices import bench_in_memory, default_bench

from .result import Result, median_round

K2400 = "GPIB0::24::INSTR"
BENCH_ENTRIES = [entry for entry in default_bench().values() if entry["address"] == K2400]


def available() -> bool:
    return importlib.util.find_spec("pymeasure") is not None


def _pymeasure_procedure(points: int, interval: float, stamps: list[float]) -> Any:
    """An IV procedure as PyMeasure's tutorial writes one: set, read, emit, sleep."""
    from pymeasure.experiment import FloatParameter, IntegerParameter, Procedure
    from pymeasure.instruments.keithley import Keithley2400

    class IV(Procedure):  # type: ignore[misc]
        points = IntegerParameter("Points", default=100)
        interval = FloatParameter("Interval", units="s", default=0.0)
        DATA_COLUMNS = ["Step", "Voltage (V)", "Current (A)"]  # noqa: RUF012

        def startup(self) -> None:
            # a library of its own: PyMeasure closes its ResourceManager when an instrument
            # is dropped, and pyvisa shares one per library (it would close the next run's)
            self.smu = Keithley2400(K2400, visa_library=f"{bench_in_memory(BENCH_ENTRIES)}@labrun")
            self.smu.reset()
            self.smu.apply_voltage(compliance_current=0.01)
            self.smu.measure_current()
            self.smu.enable_source()

        def execute(self) -> None:
            for step in range(self.points):
                level = step / self.points
                self.smu.source_voltage = level
                self.emit("results", {"Step": step, "Voltage (V)": level, "Current (A)": self.smu.current})
                stamps.append(time.perf_counter())
                if self.interval:
                    time.sleep(self.interval)
                if self.should_stop():
                    break

        def shutdown(self) -> None:
            self.smu.shutdown()

    return IV(points=points, interval=interval)


def _until_done(worker: Any) -> None:
    """PyMeasure's ``Worker.join(timeout)`` joins with a timeout of 0 whatever it is given:
    wait for the thread itself."""
    while worker.is_alive():
        time.sleep(0.001)


def _run_pymeasure(points: int, interval: float = 0.0, stop_after_first: bool = False) -> tuple[float, float]:
    """(seconds a point, first point to last; seconds from stop() to the worker's end)."""
    from pymeasure.experiment import Results, Worker

    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as directory:
        results = Results(_pymeasure_procedure(points, interval, stamps), f"{directory}/iv.csv")
        worker = Worker(results)
        worker.start()
        latency = 0.0
        if stop_after_first:
            while not stamps:
                time.sleep(0.001)
            asked = time.perf_counter()
            worker.stop()
            _until_done(worker)
            latency = time.perf_counter() - asked
        else:
            _until_done(worker)
    per_point = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else float("nan")
    return per_point, latency


def _run_labrun(points: int) -> float:
    stamps: list[float] = []

    class Timed(IVSweep):
        def after_point(self, point: Point) -> None:
            stamps.append(time.perf_counter())

    with open_sourcemeter("keithley2400", K2400, sim=True) as smu, tempfile.TemporaryDirectory() as directory:
        Timed(smu, start=0.0, stop=1.0, num_points=points, compliance=0.01, save=Saving(directory)).run()
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def _raw(points: int, set_and_read: Any) -> float:
    rm = pyvisa.ResourceManager("@labrun")
    res: Any = rm.open_resource(K2400, read_termination="\n", write_termination="\n")
    res.write("*RST;:FORM:ELEM VOLT,CURR;:SENS:CURR:PROT 0.01;:OUTP ON")
    began = time.perf_counter()
    for step in range(points):
        set_and_read(res, step / points)
    per_point = (time.perf_counter() - began) / points
    res.close()
    return per_point


def _pymeasure_strings(res: Any, level: float) -> None:
    res.write(f":SOURCE:VOLTAGE {level:g}")
    res.query(":MEASURE:CURRENT?")


def _labrun_strings(res: Any, level: float) -> None:
    res.query(f":SOUR:VOLT:LEV {level:.6E};:SYST:ERR:COUN?;:READ?")


def overhead(quick: bool) -> list[Result]:
    """Per-point framework cost over each framework's raw loop, same twin, same rounds."""
    if not available():
        print("peers: PyMeasure not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
        return []
    warnings.filterwarnings("ignore", category=FutureWarning)
    points, rounds = (200, 3) if quick else (2000, 9)
    pairs = []
    for _ in range(rounds):
        ours = _run_labrun(points) - _raw(points, _labrun_strings)
        pairs.append((_run_pymeasure(points)[0] - _raw(points, _pymeasure_strings), ours))
    theirs, ours, spread = median_round(pairs)
    return [
        Result(
            f"framework cost per point over its raw loop, {points} points (PyMeasure 0.16 side by side)",
            ours * 1e6,
            theirs * 1e6,
            "µs",
            "PyMeasure Procedure + Worker + Results",
            "≤ 0.25× PyMeasure's",
            ours <= 0.25 * theirs,
            spread,
        )
    ]


def stop_latency(quick: bool) -> list[Result]:
    """Stop asked just after the first point, 2 s between points."""
    if not available():
        return []
    warnings.filterwarnings("ignore", category=FutureWarning)
    _, theirs = _run_pymeasure(5, interval=2.0, stop_after_first=True)
    with open_sourcemeter("keithley2400", K2400, sim=True) as smu:
        run = start(IVSweep(smu, start=0.0, stop=1.0, num_points=5, delay=2.0, compliance=0.01))
        while run.progress.step < 1:
            time.sleep(0.001)
        asked = time.perf_counter()
        run.stop()
        run.wait(60)
        ours = time.perf_counter() - asked
    return [
        Result(
            "stop latency, 2 s between points (PyMeasure side by side)",
            ours * 1e3,
            theirs * 1e3,
            "ms",
            "PyMeasure's worker, which finishes its sleep",
            "≪ the interval",
            ours < 0.05,
        )
    ]


class _Counter(Experiment):
    name = "counter"
    columns = {"step": "", "voltage": "V", "current": "A"}  # noqa: RUF012

    def __init__(self, points: int) -> None:
        super().__init__()
        self.points = points

    def total_steps(self) -> int:
        return self.points

    def steps(self) -> Iterator[Point]:
        for step in range(self.points):
            yield {"step": step, "voltage": 1.0, "current": 1e-3}


def memory(quick: bool) -> list[Result]:
    """Peak memory (tracemalloc) of each framework keeping N points of 3 columns, no instrument."""
    if not available():
        return []
    from pymeasure.experiment import IntegerParameter, Procedure, Results, Worker

    points = 10_000 if quick else 100_000

    class Emit(Procedure):  # type: ignore[misc]
        points = IntegerParameter("Points", default=10)
        DATA_COLUMNS = ["Step", "Voltage (V)", "Current (A)"]  # noqa: RUF012

        def execute(self) -> None:
            for step in range(self.points):
                self.emit("results", {"Step": step, "Voltage (V)": 1.0, "Current (A)": 1e-3})

    def peak(work: Any) -> float:
        tracemalloc.start()
        work()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top / 1e6

    def pymeasure_run() -> None:
        with tempfile.TemporaryDirectory() as directory:
            results = Results(Emit(points=points), f"{directory}/emit.csv")
            worker = Worker(results)
            worker.start()
            _until_done(worker)
            results.data  # noqa: B018  # what a plot or a notebook reads: the points as a frame

    # each framework warmed by one untimed run first: a process's first run imports what
    # it needs once (labrun's run catalog, PyMeasure's results machinery); not per run
    _Counter(10).run()
    pymeasure_run()
    ours = peak(lambda: _Counter(points).run())
    theirs = peak(pymeasure_run)
    return [
        Result(
            f"peak memory keeping {points:,} points (PyMeasure side by side)",
            ours,
            theirs,
            "MB",
            "PyMeasure Worker + Results, its data read back",
            "≤ PyMeasure's",
            ours <= theirs,
        )
    ]


CASES = {"peer_overhead": overhead, "peer_stop": stop_latency, "peer_memory": memory}
