"""The experiment model: background runs, guards, stop, errors, the queue."""

from __future__ import annotations

import itertools
import pathlib
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from labrun.drivers import DeviceBusy, InstrumentError, Reading, SourceMeter, open_sourcemeter
from labrun.experiments import AlreadyRunning, IVSweep, Saving, Worker, load_data, start

from .support import BENCH, in_measuring_thread, twin


@pytest.fixture
def k2400() -> Iterator[SourceMeter]:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, timeout=1.0) as smu:
        yield smu


def sweep(smu: SourceMeter, **kw: object) -> IVSweep:
    params: dict[str, object] = {
        "start": 0.0,
        "stop": 1.0,
        "num_points": 11,
        "delay": 0.0,
        "compliance": 0.01,
    }
    params.update(kw)
    return IVSweep(smu, **params)  # type: ignore[arg-type]


def levels_in_log(smu: SourceMeter) -> list[float]:
    out = []
    for message in twin(smu).log:
        text = message.decode()
        if text.startswith(":SOUR:VOLT:LEV ") and "?" not in text.split(";")[0]:
            out.append(float(text.split(";")[0].split(" ")[1]))
    return out


def test_start_returns_at_once_and_the_caller_polls_while_it_runs(k2400: SourceMeter) -> None:
    third_point = threading.Event()
    proceed = threading.Event()

    def gate(point: dict[str, float]) -> None:
        if point["step"] == 2:
            third_point.set()
            proceed.wait(5)

    s = sweep(k2400, num_points=10)
    in_measuring_thread(s, gate)
    run = start(s)
    assert third_point.wait(5)
    # the sweep is held mid-way: the caller's thread is free and sees partial data
    assert run.running and s.running
    assert run.progress.state == "running"
    assert run.progress.step == 3 and run.progress.total == 10
    assert run.progress.latest is not None and run.progress.latest["step"] == 2
    assert len(run.data["current"]) == 3
    assert run.progress.remaining is not None and run.progress.elapsed > 0
    proceed.set()
    data = run.result(10)
    assert len(data["current"]) == 10
    assert run.progress.state == "completed" and not run.running


def test_currents_follow_the_load(k2400: SourceMeter) -> None:
    data = sweep(k2400, start=-2.0, stop=2.0, num_points=41).run()
    assert data["current"] == pytest.approx(data["source"] / 1000.0, rel=1e-3, abs=1e-8)
    assert not twin(k2400).state[(1, "output")]


def test_a_double_start_is_refused(k2400: SourceMeter) -> None:
    s = sweep(k2400, num_points=3, delay=10.0)
    run = start(s)
    with pytest.raises(AlreadyRunning):
        start(s)
    with pytest.raises(AlreadyRunning):
        s.run()
    run.stop()
    assert run.wait(5)


def test_two_sweeps_on_one_instrument_never_interleave(k2400: SourceMeter) -> None:
    a = sweep(k2400, start=0.5, stop=1.0, num_points=20)
    b = sweep(k2400, start=-0.5, stop=-1.0, num_points=20)
    runs = [start(a), start(b)]
    for run in runs:
        run.result(20)
    signs = [np.sign(v) for v in levels_in_log(k2400) if v != 0.0]
    changes = sum(1 for x, y in itertools.pairwise(signs) if x != y)
    assert changes == 1  # all of one sweep (and its ramp down), then all of the other


def test_second_sweep_can_refuse_to_wait(k2400: SourceMeter) -> None:
    a = start(sweep(k2400, num_points=3, delay=10.0))
    b = sweep(k2400)
    with pytest.raises(DeviceBusy):
        start(b, blocking=False)
    assert not b.running  # the refused start left its flag cleared
    a.stop()
    a.result(5)
    assert start(b, blocking=False).result(10)["current"].size == 11


def test_sweeps_on_different_instruments_overlap() -> None:
    with (
        open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as one,
        open_sourcemeter("keithley2450", BENCH["keithley2450"], sim=True) as other,
    ):
        other_has_a_point = threading.Event()
        a, b = sweep(one, num_points=5), sweep(other, num_points=5)
        overlapped: list[bool] = []
        # a waits, inside its first point, for b's first point: only concurrency passes
        in_measuring_thread(
            a, lambda p: overlapped.append(other_has_a_point.wait(5)) if p["step"] == 0 else None
        )
        in_measuring_thread(b, lambda p: other_has_a_point.set())
        runs = [start(a), start(b)]
        for run in runs:
            run.result(20)
        assert overlapped == [True]


def test_stop_ends_a_run_with_a_long_delay_at_once(k2400: SourceMeter) -> None:
    s = sweep(k2400, num_points=5, delay=10.0)
    run = start(s)
    while twin(k2400).state[(1, "output")] is False and run.running:
        run.wait(0.005)  # until the sweep sits in its first 10 s wait
    run.stop()
    assert run.wait(2.0)  # not 10 s: waits are interruptible
    assert run.progress.state == "stopped"
    assert run.progress.step == 0  # the interrupted point is not measured
    assert not k2400.instrument.busy
    assert twin(k2400).state[(1, "output")] is False


def test_an_exception_inside_the_sweep_reaches_result_and_leaves_all_clear(
    k2400: SourceMeter, tmp_path: pathlib.Path
) -> None:
    measure = k2400.source_and_measure  # what a sweep without delay calls per point
    calls = {"n": 0}

    def failing_measure(level: float) -> Reading:
        calls["n"] += 1
        if calls["n"] == 4:
            raise InstrumentError(k2400.name, ":READ?", "simulated failure")
        return measure(level)

    k2400.source_and_measure = failing_measure  # type: ignore[method-assign]
    s = sweep(k2400, num_points=10, save=Saving(str(tmp_path)))
    run = start(s)
    with pytest.raises(InstrumentError, match="simulated failure") as info:
        run.result(10)
    assert any("step 4 of 10" in note for note in info.value.__notes__)
    assert not s.running and not run.running
    assert not k2400.instrument.busy
    assert twin(k2400).state[(1, "output")] is False
    assert run.progress.state == "failed"
    assert s.data_file is not None
    kept = load_data(s.data_file.path)  # the points before the failure are on disk, as measured
    assert kept["source"].tolist() == pytest.approx([0.0, 1 / 9, 2 / 9])
    assert kept["current"].tolist() == run.data["current"].tolist()
    assert kept["current"] == pytest.approx([0.0, 1 / 9e3, 2 / 9e3], abs=1e-6)  # the 1 kOhm load


def test_a_queue_of_three_sweeps_runs_in_order(k2400: SourceMeter) -> None:
    worker = Worker()
    first_started = threading.Event()
    release = threading.Event()
    order: list[float] = []
    sweeps = [sweep(k2400, start=v, stop=v + 0.1, num_points=3) for v in (0.1, 0.2, 0.3)]

    def hold_first(point: dict[str, float]) -> None:
        if point["step"] == 0:
            first_started.set()
            release.wait(5)

    def note_first(point: dict[str, float]) -> None:
        if point["step"] == 0:
            order.append(point["source"])

    in_measuring_thread(sweeps[0], hold_first)
    for s in sweeps:
        s.subscribe(note_first)
    runs = [worker.submit(s) for s in sweeps]
    assert first_started.wait(5)
    assert worker.queued == sweeps[1:]  # inspectable while the first one runs
    release.set()
    assert worker.join(20)
    assert order == pytest.approx([0.1, 0.2, 0.3])
    assert all(r.progress.state == "completed" for r in runs)
    assert worker.stop(timeout=5)


def test_worker_queue_can_be_cleared_and_the_worker_stopped(k2400: SourceMeter) -> None:
    worker = Worker()
    long = sweep(k2400, num_points=3, delay=10.0)
    runs = [worker.submit(long), worker.submit(sweep(k2400)), worker.submit(sweep(k2400))]
    while long.progress.state != "running":
        runs[0].wait(0.005)
    assert len(worker.clear()) == 2
    assert worker.queued == []
    assert worker.stop(timeout=5)  # stops the running sweep too
    assert all(not r.running for r in runs)
    assert runs[0].progress.state == "stopped"
    assert not k2400.instrument.busy
    with pytest.raises(RuntimeError):
        worker.submit(sweep(k2400))


def test_return_sweep_and_current_mode(k2400: SourceMeter) -> None:
    data = sweep(k2400, start=0.0, stop=1.0, num_points=3, return_sweep=True).run()
    assert data["source"] == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0])
    data = sweep(k2400, mode="current", start=1e-3, stop=3e-3, num_points=3, compliance=10.0).run()
    assert data["current"] == pytest.approx([1e-3, 2e-3, 3e-3], rel=1e-3)
    assert data["voltage"] == pytest.approx([1.0, 2.0, 3.0], rel=1e-3)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"start": 1.0, "stop": 1.0}, "stop equals start"),
        ({"delay": -0.1}, "delay = -0.1: Input should be greater than or equal to 0"),
        ({"num_points": 0}, "num_points"),
        ({"stop": 300.0}, "outside the allowed"),
        ({"compliance": 2.0}, "outside the allowed"),
        ({"stop": 100.0, "compliance": 0.5}, "power envelope"),
        ({"stop": 5.0, "max_voltage": 2.0}, "your configured limit"),
        ({"mode": "power"}, "mode = 'power': Input should be 'voltage' or 'current'"),
    ],
)
def test_bad_sweeps_are_refused_before_any_write(
    k2400: SourceMeter, kw: dict[str, object], message: str
) -> None:
    before = len(twin(k2400).log)
    with pytest.raises(ValueError, match=message):
        sweep(k2400, **kw)
    assert len(twin(k2400).log) == before


def test_a_failing_listener_is_dropped_and_the_sweep_goes_on(k2400: SourceMeter) -> None:
    seen: list[float] = []
    s = sweep(k2400, num_points=5)

    def broken(point: dict[str, float]) -> None:
        raise ZeroDivisionError

    s.subscribe(broken)
    s.subscribe(lambda p: seen.append(p["step"]))
    data = s.run()
    assert data["source"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert seen == [0, 1, 2, 3, 4]


def test_a_sweep_can_run_again_after_it_ended(k2400: SourceMeter) -> None:
    s = sweep(k2400, num_points=4)
    first, second = start(s).result(10), start(s).result(10)
    for data in (first, second):  # each run has its own table, from step 0, the same levels
        assert data["step"].tolist() == [0, 1, 2, 3]
        assert data["source"].tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert s.data["step"].tolist() == [0, 1, 2, 3]  # the last run's, not both
