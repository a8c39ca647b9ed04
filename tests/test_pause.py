"""Pause and resume (issue 33): a stepped run pauses between two points and resumes at the
next, every point kept in order, the pause in the journal and the record; a safe pause
turns the outputs off and back on; a stop during a pause ends safely; an instrument-side
sweep refuses; the keyboard, a second terminal and the panel all pause it."""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from labrun.drivers import SourceMeter, open_sourcemeter
from labrun.experiments import IVSweep, Run, Saving, load_data, start
from labrun.experiments.cli.main import main
from labrun.experiments.engine import PauseRefused, RunState
from labrun.experiments.storage import Catalog

from .support import BENCH, in_measuring_thread, labrun_run, twin
from .test_interrupt import wait_for_rows


@pytest.fixture
def k2400() -> Iterator[SourceMeter]:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        yield smu


@pytest.fixture
def catalog(tmp_path: pathlib.Path) -> Catalog:
    return Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")


def paused_at(experiment: IVSweep, step: int, **how: Any) -> None:
    """The run pauses after the point of ``step`` (asked from the measuring thread, so the
    test knows exactly where)."""
    in_measuring_thread(
        experiment,
        lambda p: experiment.last_run.pause(**how) if p["step"] == step else None,  # type: ignore[union-attr]
    )


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.005)


def test_a_pause_holds_between_two_points_and_a_resume_goes_on_at_the_next(
    k2400: SourceMeter, tmp_path: pathlib.Path, catalog: Catalog
) -> None:
    sweep = IVSweep(k2400, start=0, stop=1, num_points=20, compliance=0.01, save=Saving(str(tmp_path)))
    paused_at(sweep, 5)
    run = start(sweep, catalog=catalog.url)
    wait_until(lambda: run.state == RunState.PAUSED)
    held = run.progress.step
    time.sleep(0.05)  # nothing is measured while paused
    assert (
        run.progress.step == held == 6 and twin(k2400).state[(1, "output")] is True
    )  # hold: the level stays
    assert run.progress.state == "paused"
    run.resume()
    data = run.result(10)
    assert data["step"].tolist() == list(range(20))  # every point, in order, none twice
    record = catalog.get(run.run_id)
    (pause,) = record.pauses
    assert record.status == "completed" and pause["after"] == 6 and pause["mode"] == "hold"
    assert pause["by"] == "run.pause()" and pause["resumed_by"] == "run.resume()" and pause["resumed"]
    assert run.data_file is not None
    lines = run.data_file.path.read_text().splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("# pause: "))
    assert (
        lines[at - 1].startswith("5,")
        and lines[at + 1].startswith("# resume: ")
        and lines[at + 2].startswith("6,")
    )
    assert len(load_data(run.data_file.path)) == 20


def test_a_safe_pause_turns_the_output_off_and_back_on_at_its_level(k2400: SourceMeter) -> None:
    sweep = IVSweep(k2400, start=0, stop=1, num_points=11, compliance=0.01, pause="safe")
    paused_at(sweep, 4)
    run = start(sweep, catalog="none")
    wait_until(lambda: run.state == RunState.PAUSED)
    assert twin(k2400).state[(1, "output")] is False  # safe: ramped down and off while paused
    run.resume()
    data = run.result(10)
    assert data["source"].tolist() == pytest.approx([k / 10 for k in range(11)])
    assert data["current"][5] == pytest.approx(0.5e-3, rel=1e-2)  # back at its level before the next point
    assert run.record is not None and run.record.pauses[0]["mode"] == "safe"


def test_a_stop_during_a_pause_ends_safely(k2400: SourceMeter, tmp_path: pathlib.Path) -> None:
    sweep = IVSweep(k2400, start=0, stop=1, num_points=50, compliance=0.01, save=Saving(str(tmp_path)))
    paused_at(sweep, 2)
    run = start(sweep, catalog="none")
    wait_until(lambda: run.state == RunState.PAUSED)
    run.stop("the Stop button")
    run.result(10)
    assert run.progress.state == "stopped" and run.progress.step == 3
    assert twin(k2400).state[(1, "output")] is False
    assert run.record is not None and run.record.stopped_by == "the Stop button"
    assert run.record.pauses[0]["resumed"] is None  # it never resumed
    assert run.data_file is not None and load_data(run.data_file.path).end["status"] == "stopped"  # type: ignore[index]


def test_an_instrument_side_sweep_refuses_to_pause(k2400: SourceMeter) -> None:
    sweep = IVSweep(
        k2400, start=0, stop=1, num_points=200, compliance=0.01, sweep="hardware", poll_interval=0.01
    )
    run = start(sweep, catalog="none")
    with pytest.raises(PauseRefused, match="an instrument-side sweep steps on its own"):
        run.pause()
    run.stop()
    run.result(10)
    done = start(IVSweep(k2400, start=0, stop=1, num_points=3, compliance=0.01), catalog="none")
    done.result(10)
    with pytest.raises(PauseRefused, match="iv_sweep cannot pause: it has completed"):
        done.pause()


def test_a_second_terminal_pauses_and_resumes_a_run(
    k2400: SourceMeter, catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = IVSweep(k2400, start=0, stop=1, num_points=400, delay=0.01, compliance=0.01)
    run = start(sweep, catalog=catalog.url)
    wait_until(lambda: run.progress.step >= 2)
    assert main(["runs", "pause", run.short_id, "--catalog", catalog.url]) == 0
    assert "pause asked and taken" in capsys.readouterr().out
    wait_until(lambda: run.state == RunState.PAUSED)
    assert main(["runs", "resume", run.short_id, "--catalog", catalog.url]) == 0
    wait_until(lambda: run.state == RunState.RUNNING)
    assert main(["runs", "stop", run.short_id, "--catalog", catalog.url]) == 0
    run.result(10)
    assert run.record is not None and run.record.stopped_by is not None
    assert run.record.stopped_by.startswith("labrun runs stop, process")
    assert run.record.pauses[0]["by"].startswith("labrun runs pause, process")
    assert main(["runs", "pause", run.short_id, "--catalog", catalog.url]) == 1  # ended: nothing to pause
    assert "is not running" in capsys.readouterr().err


SLOW = {
    "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
    "experiment": {"type": "iv_sweep", "start": "0 V", "stop": "1 V", "num_points": 300, "delay": "50 ms",
                   "compliance": "10 mA"},
    "save": {"directory": "out", "plot": False},
}  # fmt: skip


@pytest.mark.timeout(60)
def test_the_keyboard_pauses_resumes_and_stops_labrun_run(tmp_path: pathlib.Path, catalog: Catalog) -> None:
    proc, out = labrun_run(tmp_path, SLOW, "--keys", env={"LABRUN_CATALOG": catalog.url}, stdin=True)
    assert proc.stdin is not None
    try:
        data_file = wait_for_rows(out, 2)
        proc.stdin.write("p\n")
        proc.stdin.flush()
        wait_until(lambda: "# pause: " in data_file.read_text())
        rows = len(load_data(data_file))
        time.sleep(0.2)  # four points' time: none comes while paused
        assert len(load_data(data_file)) == rows
        proc.stdin.write("p\n")  # p again resumes
        proc.stdin.flush()
        wait_for_rows(out, rows + 2)
        proc.stdin.write("s\n")
        proc.stdin.flush()
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 3, stderr  # stopped by a person: neither completed nor failed
    assert "stopped by the keyboard of labrun run" in stderr
    (record,) = catalog.runs()
    assert record.status == "stopped" and record.stopped_by == "the keyboard of labrun run"
    assert [p["by"] for p in record.pauses] == ["the keyboard of labrun run"] and record.pauses[0]["resumed"]
    data = load_data(data_file)
    assert data["step"].tolist() == list(range(len(data)))


def test_the_panel_pauses_and_resumes_its_running_job(tmp_path: pathlib.Path) -> None:
    from starlette.testclient import TestClient

    from labrun.experiments.panel import create_app

    configs = tmp_path / "configs"
    configs.mkdir()
    slow = {**SLOW, "save": {"plot": False}}
    (configs / "slow.yaml").write_text(yaml.safe_dump(slow), encoding="utf-8")
    with TestClient(create_app(configs, tmp_path / "data", catalog="none")) as client:
        job = client.post("/api/jobs", json={"config": "slow", "values": {}}).json()

        def state() -> str:
            current = client.get("/api/state").json()["current"]
            return str(current["state"]) if current else ""

        wait_until(lambda: state() == "running")
        assert client.post(f"/api/jobs/{job['id']}/pause").status_code == 200
        wait_until(lambda: state() == "paused")
        assert client.post(f"/api/jobs/{job['id']}/resume").status_code == 200
        wait_until(lambda: state() == "running")
        assert client.post(f"/api/jobs/{job['id']}/stop").status_code == 200
        wait_until(lambda: state() == "")
        assert (
            client.post(f"/api/jobs/{job['id']}/pause").json()["error"] == f"job {job['id']} is not running"
        )


def test_pause_and_resume_from_other_threads_race_safely(k2400: SourceMeter) -> None:
    """Pauses and resumes asked from two threads while the run goes on: it ends, every
    point once, in order, whatever the interleaving."""
    run: Run = start(IVSweep(k2400, start=0, stop=1, num_points=300, compliance=0.01), catalog="none")
    done = threading.Event()

    def toggle(action: str) -> None:
        while not done.is_set() and run.running:
            try:
                getattr(run, action)()
            except PauseRefused:  # it ended between the look and the pause
                return
            time.sleep(0.001)

    threads = [threading.Thread(target=toggle, args=(a,)) for a in ("pause", "resume")]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    done.set()
    for thread in threads:
        thread.join()
    run.resume()
    data = run.result(20)
    assert data["step"].tolist() == list(range(300))


# ------------------------------------------------------ the edges a review found


def test_a_stop_then_a_pause_is_refused_and_the_run_ends(k2400: SourceMeter) -> None:
    sweep = IVSweep(k2400, start=0, stop=1, num_points=50, compliance=0.01, pause="safe")
    paused_at(sweep, 3)
    run = start(sweep, catalog="none")
    wait_until(lambda: run.state == RunState.PAUSED)
    run.stop("the Stop button")
    with pytest.raises(PauseRefused, match="it is stopping"):
        run.pause()
    run.result(10)
    assert run.progress.state == "stopped" and twin(k2400).state[(1, "output")] is False


def test_a_pause_asked_while_held_neither_is_lost_nor_changes_how_it_resumes(k2400: SourceMeter) -> None:
    sweep = IVSweep(k2400, start=0, stop=1, num_points=11, compliance=0.01, pause="safe")
    paused_at(sweep, 3)
    run = start(sweep, catalog="none")
    wait_until(lambda: run.state == RunState.PAUSED)
    run.pause("hold")  # held already, in safe mode: nothing changes
    run.resume()
    run.pause()  # just after a resume: held again, not lost
    time.sleep(0.05)
    assert run.state == RunState.PAUSED and run.progress.step == 4
    run.resume()
    data = run.result(10)
    assert data["current"][4:] == pytest.approx(
        [k * 1e-4 for k in range(4, 11)], rel=1e-2
    )  # back on, each time
    assert [p["mode"] for p in run.record.pauses] == ["safe"]  # type: ignore[union-attr]


def test_a_safe_resume_ramps_back_up_as_the_pause_ramped_down(k2400: SourceMeter) -> None:
    sweep = IVSweep(k2400, start=0, stop=1, num_points=3, compliance=0.01, pause="safe")
    paused_at(sweep, 1)
    run = start(sweep, catalog="none")
    wait_until(lambda: run.state == RunState.PAUSED)
    sent = len(twin(k2400).log)
    run.resume()
    run.result(10)
    levels = [m.decode() for m in twin(k2400).log[sent:] if m.startswith(b":SOUR:VOLT:LEV")]
    ramp = [float(m.split()[1].split(";")[0]) for m in levels[:11]]
    assert ramp == pytest.approx([0.5 * k / 10 for k in range(11)])  # from zero up to its level


def test_no_pause_before_it_measures_and_none_after_its_last_point(k2400: SourceMeter) -> None:
    k2400.device_lock.acquire("someone else")
    try:
        waiting = start(IVSweep(k2400, start=0, stop=1, num_points=3, compliance=0.01), catalog="none")
        with pytest.raises(PauseRefused, match="it is claiming, not measuring yet"):
            waiting.pause()
        waiting.stop()
        waiting.result(10)
    finally:
        k2400.device_lock.release()
    last = IVSweep(k2400, start=0, stop=1, num_points=4, compliance=0.01)
    paused_at(last, 3)  # asked at the last point: there is no next point to wait for
    run = start(last, catalog="none")
    run.result(10)
    assert run.progress.state == "completed" and run.record is not None and run.record.pauses == []


def test_parameters_and_keywords_together_are_refused(k2400: SourceMeter) -> None:
    from labrun.experiments.model import IVSweepParameters, ParameterError

    params = IVSweepParameters(start=0, stop=1, num_points=3, compliance=0.01)
    with pytest.raises(ParameterError, match="give IVSweepParameters or keywords, not both"):
        IVSweep(k2400, params, delay=0.1)
