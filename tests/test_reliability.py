"""Whatever goes wrong: the output is turned off, the data so far is on disk, the error says what.

Faults are injected into the simulated instrument (sim_devices/faults.py), so they take
the path real use takes: pyvisa, the driver, the runner, the CLI.
"""

from __future__ import annotations

import functools
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import yaml

from labrun.drivers import InstrumentError, SourceMeter, open_sourcemeter
from labrun.experiments import IVSweep, Saving, load_data, start
from labrun.experiments.cli.main import main
from labrun.sim_devices import Fault, backend

from .support import BENCH, in_measuring_thread, open_fds, run_threads, snapshot_answers, twin

FAULTS = ["timeout", "garbage", "truncate", "error", "disconnect", "slow"]


@pytest.fixture
def smu() -> Iterator[SourceMeter]:
    driver = open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, timeout=0.2)
    yield driver
    driver.close()


def arm_at_step(sweep: IVSweep, smu: SourceMeter, fault: Fault, step: int) -> None:
    """Inject ``fault`` once point ``step`` is recorded: the next answer misbehaves."""
    t = twin(smu)

    def arm(point: dict[str, float]) -> None:
        if point["step"] == step:
            t.fault = Fault(fault.kind, after=t.answered + fault.after, delay=fault.delay, code=fault.code)

    in_measuring_thread(sweep, arm)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", FAULTS)
def test_a_fault_mid_sweep_stops_it_safely_and_keeps_the_data(
    smu: SourceMeter, kind: str, tmp_path: pathlib.Path
) -> None:
    sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=10, compliance=0.01, save=Saving(str(tmp_path)))
    arm_at_step(sweep, smu, Fault(kind, delay=0.5), step=2)  # type: ignore[arg-type]
    run = start(sweep)
    with pytest.raises(InstrumentError) as info:
        run.result(25)
    error = info.value
    notes = " ".join(getattr(error, "__notes__", []))
    # the error names instrument, command and step
    assert "keithley2400 at GPIB0::24::INSTR" in str(error)
    assert ":SOUR:VOLT:LEV" in error.command
    # an instrument error lands in the queue after the answer it came with: one step later
    kept = 4 if kind == "error" else 3
    assert f"failed at step {kept + 1} of 10" in notes
    # the data measured before the fault is on disk and parses
    assert sweep.data_file is not None
    assert load_data(sweep.data_file.path)["step"].tolist() == [float(i) for i in range(kept)]
    # flag and device lock are cleared
    assert not sweep.running and not run.running and not smu.instrument.busy
    state = twin(smu).state
    if kind == "disconnect":
        # nothing reaches the instrument any more: the failed shutdown rides along, unhidden
        assert "its output may still be on" in notes
    else:
        # the ramp stops at its first failed step (each retry would cost a timeout);
        # the output-off is sent regardless and reaches the instrument
        assert state[(1, "output")] is False
        # the last output command sent is the off (a garbage answer to its confirmation may
        # be followed by reads of the error queue: how many depends on the garbage)
        outputs = [m for m in twin(smu).log if m.startswith(b":OUTP")]
        assert outputs[-1].startswith(b":OUTP OFF")


def test_an_instrument_error_names_its_entry(smu: SourceMeter) -> None:
    sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=10, compliance=0.01)
    arm_at_step(sweep, smu, Fault("error", code=-300), step=5)
    with pytest.raises(InstrumentError, match=r'-300,"Device-specific error"'):
        start(sweep).result(10)
    assert twin(smu).state[(1, "output")] is False


def test_a_slow_instrument_is_only_slow(smu: SourceMeter) -> None:
    smu.instrument.timeout = 1.0
    twin(smu).fault = Fault("slow", delay=0.01)
    data = IVSweep(smu, start=0.0, stop=1.0, num_points=5, compliance=0.01).run()
    assert data["source"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]  # every answer, none lost or shifted
    assert data["current"] == pytest.approx([0.0, 2.5e-4, 5e-4, 7.5e-4, 1e-3], abs=1e-6)


def test_the_cli_reports_a_fault_with_exit_1_and_keeps_the_data(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {
        "instrument": {
            "model": "keithley2400",
            "address": "GPIB0::24::INSTR",
            "sim": True,
            "timeout": "200 ms",
            # opening and setup take 12 answers, the run's snapshot of the instrument its own
            "fault": {"kind": "timeout", "after": 19 + snapshot_answers("keithley2400")},
        },
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 20, "compliance": 0.01},
        "save": {"directory": str(tmp_path), "plot": True},
    }
    path = tmp_path / "faulty.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "keithley2400 at GPIB0::24::INSTR: ':SOUR:VOLT:LEV" in err and "no answer within 0.2 s" in err
    assert "failed at step 8 of 20" in err
    # the shutdown at a dead instrument is reported, not hiding the cause
    assert "shutting the instrument down failed" in err and "its output may still be on" in err
    assert "the output state is unknown" in err
    (data_file,) = tmp_path.glob("*.csv")
    kept = load_data(data_file)
    assert 0 < len(kept) < 20
    assert data_file.with_suffix(".png").exists()  # the points so far, plotted


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("points", "delay"),
    [(500, "20 ms"), (200_000, 0)],  # an instrument's pace; a burst, its rows written in batches
    ids=["paced", "burst"],
)
def test_kill_9_loses_at_most_the_point_in_flight(
    tmp_path: pathlib.Path, points: int, delay: str | int
) -> None:
    config = {
        "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
        "experiment": {
            "type": "iv_sweep",
            "start": 0,
            "stop": 1,
            "num_points": points,
            "delay": delay,
            "compliance": 0.01,
        },
        "save": {"directory": str(tmp_path / "out"), "plot": False},
    }
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "labrun.experiments.cli", "run", str(path), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        seen = 0
        while time.monotonic() < deadline and seen < 5:
            for f in (tmp_path / "out").glob("*.csv"):
                try:
                    seen = len(load_data(f))
                except ValueError as error:  # made, its header not written yet (seen under load)
                    assert "no column header (yet)" in str(error)
            time.sleep(0.01)
        assert seen >= 5
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    (data_file,) = (tmp_path / "out").glob("*.csv")
    data = load_data(data_file)
    assert len(data) >= seen  # every point completed before the kill is there
    assert data["step"].tolist() == list(range(len(data)))  # in order, none torn
    lines = data_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) - sum(ln.startswith("#") for ln in lines) - 1 <= len(data) + 1  # at most one torn


@pytest.mark.timeout(120)
def test_32_threads_many_transactions_no_mixed_replies() -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        queries = [
            ("*IDN?", "MODEL 2400"),
            (":FORM:ELEM?", "VOLT,CURR"),
            (":SOUR:FUNC?", "VOLT"),
            (":OUTP?", "0"),
        ]
        wrong = [0] * 32
        barrier = threading.Barrier(32)

        def worker(k: int) -> None:
            query, expected = queries[k % len(queries)]
            barrier.wait()
            for i in range(500):
                if i % 3 == 0:
                    smu.instrument.write(f":TRIG:DEL {k * 1e-3:.3f}")
                elif expected not in smu.instrument.query(query):
                    wrong[k] += 1

        run_threads(*(functools.partial(worker, k) for k in range(32)), timeout=100)
        assert sum(wrong) == 0
        assert len(twin(smu).log) >= 32 * 500  # 16,000 transactions went through


@pytest.mark.timeout(120)
def test_start_and_stop_200_times_leaks_nothing(smu: SourceMeter, tmp_path: pathlib.Path) -> None:
    threads_before, fds_before = threading.active_count(), open_fds()
    sweep = IVSweep(
        smu, start=0.0, stop=1.0, num_points=1000, delay=0.001, compliance=0.01, save=Saving(str(tmp_path))
    )
    for _ in range(200):
        run = start(sweep)
        run.stop()
        assert run.wait(5)
        assert not sweep.running and not smu.instrument.busy
    # a run's thread ends just after it signals the end: wait for each, then count
    for thread in threading.enumerate():
        if thread.name == "labrun-iv_sweep":
            thread.join(5)
    assert threading.active_count() == threads_before
    assert open_fds() <= fds_before
    assert smu.instrument.io_lock.acquire(blocking=False)  # nobody kept the I/O lock
    smu.instrument.io_lock.release()


CORPUS = sorted((pathlib.Path(__file__).parent / "bad_configs").glob("*.yaml"))


def test_the_corpus_has_at_least_30_bad_configs() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_each_bad_config_is_refused_with_its_message_and_touches_nothing(
    path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    expect = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    assert expect.startswith("# expect: "), f"{path.name} must start with '# expect: REGEX'"
    monkeypatch.chdir(path.parent)  # relative save directories resolve beside the corpus
    built = backend.twins_built
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert re.search(expect.removeprefix("# expect: "), err), err
    assert backend.twins_built == built  # the simulator never saw a command
