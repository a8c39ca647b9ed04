"""One run lifecycle: every run goes through the runner's state machine, and nowhere else.

Each way a run can end is watched transition by transition; an illegal transition raises;
locks taken by a launcher are handed to the run, never released and taken again.
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Iterator

import pytest

from labrun.drivers import DeviceBusy, DeviceLock, SourceMeter, open_sourcemeter
from labrun.experiments import AlreadyRunning, Experiment, IVSweep, Worker, start
from labrun.experiments.config import read_config
from labrun.experiments.config.launch import launch
from labrun.experiments.engine import RUNNER, IllegalTransition, Run, RunState
from labrun.experiments.engine.states import TRANSITIONS, Lifecycle

from .support import BENCH, in_measuring_thread

IDLE, C, R, S = RunState.IDLE, RunState.CLAIMING, RunState.RUNNING, RunState.STOPPING


@pytest.fixture
def k2400() -> Iterator[SourceMeter]:
    driver = open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, timeout=1.0)
    yield driver
    driver.close()


def sweep(smu: SourceMeter, points: int = 5, delay: float = 0.0) -> IVSweep:
    return IVSweep(smu, start=0.0, stop=1.0, num_points=points, delay=delay, compliance=0.01)


def watched(run: Run) -> list[tuple[RunState, RunState]]:
    seen: list[tuple[RunState, RunState]] = []
    run.lifecycle.watch(lambda old, new: seen.append((old, new)))
    return seen


def test_a_completed_run_passes_through_every_state_in_order(k2400: SourceMeter) -> None:
    run = Run(sweep(k2400))
    seen = watched(run)
    RUNNER.claim(run)
    RUNNER.execute(run)
    assert seen == [(IDLE, C), (C, R), (R, S), (S, RunState.COMPLETED)]
    assert run.progress.state == "completed" and run.progress.step == 5 and not run.running


def test_a_stopped_run_tears_down_then_says_stopped(k2400: SourceMeter) -> None:
    experiment = sweep(k2400, points=50)
    in_measuring_thread(experiment, lambda point: experiment.stop("test") if point["step"] == 3 else None)
    run = Run(experiment)
    seen = watched(run)
    RUNNER.claim(run)
    RUNNER.execute(run)
    assert seen[-2:] == [(R, S), (S, RunState.STOPPED)]
    assert run.progress.step == 4 and not k2400.is_output_on()


def test_a_failure_in_the_steps_ends_failed_after_the_teardown(k2400: SourceMeter) -> None:
    experiment = sweep(k2400, points=50)

    def fail(point: dict[str, float]) -> None:
        if point["step"] == 2:
            raise RuntimeError("the sample burnt")

    in_measuring_thread(experiment, fail)
    run = Run(experiment)
    seen = watched(run)
    RUNNER.claim(run)
    RUNNER.execute(run)
    assert seen[-2:] == [(R, S), (S, RunState.FAILED)]
    with pytest.raises(RuntimeError, match="the sample burnt"):
        run.result()
    assert not k2400.is_output_on()


def test_stopped_while_waiting_for_its_instrument_never_runs(k2400: SourceMeter) -> None:
    k2400.device_lock.acquire("someone else")
    try:
        run = Run(sweep(k2400))
        seen = watched(run)
        RUNNER.claim(run)
        waiting = threading.Thread(target=RUNNER.execute, args=(run,))
        waiting.start()
        run.stop("changed my mind")
        waiting.join(5)
    finally:
        k2400.device_lock.release()
    assert seen == [(IDLE, C), (C, RunState.STOPPED)]


def test_a_busy_instrument_fails_the_claim_and_an_experiment_runs_once(k2400: SourceMeter) -> None:
    experiment = sweep(k2400, points=200, delay=0.01)
    first = start(experiment)
    with pytest.raises(AlreadyRunning):
        start(experiment)
    with pytest.raises(DeviceBusy):
        start(sweep(k2400), blocking=False)
    first.stop()
    first.result(timeout=10)
    assert first.progress.state == "stopped"


def test_a_run_dropped_from_a_queue_is_stopped_and_cancelled(k2400: SourceMeter) -> None:
    worker = Worker()
    try:
        hold = worker.submit(sweep(k2400, points=500, delay=0.01))
        dropped = worker.submit(sweep(k2400))
        assert dropped.progress.state == "idle"
        worker.clear()
        assert dropped.progress.state == "stopped" and dropped.future.cancelled()
        hold.stop()
    finally:
        worker.stop(timeout=10)


def test_an_illegal_transition_raises_and_changes_nothing() -> None:
    life = Lifecycle("test")
    for state in (C, R, S, RunState.COMPLETED):
        life.to(state)
    for state in RunState:
        with pytest.raises(IllegalTransition, match="cannot go from completed"):
            life.to(state)
    assert life.state == RunState.COMPLETED and life.ended
    assert all(TRANSITIONS[end] == frozenset() for end in (RunState.STOPPED, RunState.FAILED))


def test_an_ended_run_cannot_be_driven_again(k2400: SourceMeter) -> None:
    run = Run(sweep(k2400))
    RUNNER.claim(run)
    RUNNER.execute(run)
    with pytest.raises(IllegalTransition):
        run.enter(RunState.RUNNING)


def test_the_end_state_is_entered_with_every_instrument_given_back(k2400: SourceMeter) -> None:
    run = Run(sweep(k2400))
    busy_at_end: list[bool] = []
    run.lifecycle.watch(
        lambda old, new: busy_at_end.append(k2400.device_lock.busy) if new == RunState.COMPLETED else None
    )
    RUNNER.claim(run)
    RUNNER.execute(run)
    assert busy_at_end == [False]


CONFIG = """
instrument: {model: keithley2400, address: "GPIB0::24::INSTR", sim: true}
experiment: {type: iv_sweep, start: 0 V, stop: 1 V, num_points: 5, compliance: 10 mA}
save: {directory: DATA, plot: false}
"""


def test_a_launch_hands_its_locks_to_the_run_never_releasing_them(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "iv.yaml"
    path.write_text(CONFIG.replace("DATA", str(tmp_path / "data")), encoding="utf-8")
    config = read_config(path)
    released: list[tuple[DeviceLock, str]] = []  # every release in the process (other tests' too)
    original = DeviceLock.release

    def release(lock: DeviceLock) -> None:
        released.append((lock, lock.owner or "?"))
        original(lock)

    monkeypatch.setattr(DeviceLock, "release", release)
    with launch(config, owner="a test's launch") as launched:
        lock = launched.drivers["instrument"].device_lock
        assert lock.busy and lock.owner == "a test's launch"
        owners: list[str | None] = []
        in_measuring_thread(launched.experiment, lambda point: owners.append(lock.owner))
        run = launched.start()
        run.result(timeout=10)
    assert owners and all(o is not None and o.startswith("iv_sweep (run started") for o in owners)
    ours = [owner for released_lock, owner in released if released_lock is lock]
    assert len(ours) == 1 and ours[0].startswith("iv_sweep (run started") and not lock.busy


def test_experiments_are_freed_after_their_runs_and_need_not_be_hashable(k2400: SourceMeter) -> None:
    import dataclasses
    import gc
    import weakref

    @dataclasses.dataclass(eq=True)
    class Plain(Experiment):  # an experiment that is a dataclass: equal ones, and unhashable
        points: int = 3
        name = "plain"
        columns = {"step": ""}  # noqa: RUF012

        def __post_init__(self) -> None:
            super().__init__()

        def total_steps(self) -> int:
            return self.points

        def steps(self) -> Iterator[dict[str, int]]:
            yield from ({"step": k} for k in range(self.points))

    first, second = Plain(), Plain()  # equal, distinct: each has its own running flag
    assert first.run(catalog="none")["step"].tolist() == [0, 1, 2]
    assert second.run(catalog="none")["step"].tolist() == [0, 1, 2]
    gone = []
    for _ in range(3):
        experiment = sweep(k2400)
        start(experiment, catalog="none").result(10)
        gone.append(weakref.ref(experiment))
    del experiment
    deadline = time.monotonic() + 5  # the last run's thread lets go of its frame just after its end
    while any(ref() is not None for ref in gone) and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert [ref() for ref in gone] == [None, None, None]  # nothing of the runner keeps them


def test_a_run_without_a_place_for_requests_still_runs(
    k2400: SourceMeter, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABRUN_LOCK_DIR", str(tmp_path))
    (tmp_path / "runs").write_text("a file where the requests' folder would be")
    run = start(sweep(k2400), catalog="none")
    assert run.result(10)["step"].tolist() == [0, 1, 2, 3, 4] and not k2400.device_lock.busy


def test_cancel_of_a_run_that_has_begun_stops_it_and_gives_its_instrument_back(k2400: SourceMeter) -> None:
    k2400.device_lock.acquire("someone else")
    try:
        waiting = start(sweep(k2400), catalog="none")
        waiting.cancel()  # claiming: not dropped but stopped
    finally:
        k2400.device_lock.release()
    waiting.result(10)
    assert waiting.progress.state == "stopped" and not k2400.device_lock.busy


def test_locks_handed_to_a_run_that_cannot_start_are_given_back(k2400: SourceMeter) -> None:
    experiment = sweep(k2400, points=200, delay=0.01)
    first = start(experiment, catalog="none")
    other = open_sourcemeter("keithley2450", BENCH["keithley2450"], sim=True)
    try:
        lock = other.device_lock
        lock.acquire("a launcher")
        with pytest.raises(AlreadyRunning):
            RUNNER.start(experiment, claimed=[lock])  # handed over, and the run is refused
        assert not lock.busy
    finally:
        other.close()
        first.stop()
        first.result(10)
