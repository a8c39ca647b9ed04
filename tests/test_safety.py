"""Never leave an instrument unsafe: right instrument, one owner, checks before output,
truthful and bounded shutdown, subscribers that cannot hold a run hostage."""

from __future__ import annotations

import logging
import pathlib
import subprocess
import sys
import threading
import time

import pytest
import yaml

from labrun.drivers import (
    DeviceBusy,
    Instrument,
    InstrumentError,
    Keithley2400,
    WrongInstrument,
    open_resource,
    open_sourcemeter,
)
from labrun.experiments import IVSweep, Run, Saving, start
from labrun.experiments.cli.main import main
from labrun.experiments.engine import delivery
from labrun.sim_devices import Fault
from labrun.sim_devices.server import ServedBench

from .support import in_measuring_thread, run_threads, twin

# ------------------------------------------------------- the right instrument


def test_a_2400_driver_refuses_a_2450_and_says_how_to_override(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(WrongInstrument) as refused:
        open_sourcemeter("keithley2400", "GPIB0::18::INSTR", sim=True)
    message = str(refused.value)
    assert "expected a Keithley 2400 series (2400, 2401, 2410, 2420, 2425, 2430, 2440)" in message
    assert "at GPIB0::18::INSTR" in message
    assert "found 'KEITHLEY INSTRUMENTS,MODEL 2450,04096302,1.7.3b'" in message
    assert "force_model=True (YAML: instrument.force_model: true)" in message
    with open_sourcemeter("keysight_b2901", "GPIB0::23::INSTR", sim=True, force_model=False) as smu:
        assert "B2901A" in smu.identify()
    resource = open_resource("GPIB0::23::INSTR", "@labrun")
    forced = Keithley2400(Instrument(resource))
    with caplog.at_level(logging.WARNING):
        assert "B2901A" in forced.check_identity(force_model=True)
    assert "as a keithley2400 (force_model)" in caplog.text
    resource.close()


def test_every_driver_refuses_every_other_model() -> None:
    addresses = {
        "keithley2400": "GPIB0::24::INSTR",
        "keithley2450": "GPIB0::18::INSTR",
        "keysight_b2901": "GPIB0::23::INSTR",
    }
    for driver in addresses:
        for model, address in addresses.items():
            if model == driver:
                open_sourcemeter(driver, address, sim=True).close()
            else:
                with pytest.raises(WrongInstrument, match="expected a"):
                    open_sourcemeter(driver, address, sim=True)


def test_a_2450_in_tsp_mode_is_refused_with_how_to_switch(tmp_path: pathlib.Path) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text(
        yaml.safe_dump(
            {"instruments": [{"address": "GPIB0::18::INSTR", "model": "keithley2450", "language": "TSP"}]}
        ),
        encoding="utf-8",
    )
    with pytest.raises(WrongInstrument) as refused:
        open_sourcemeter("keithley2450", "GPIB0::18::INSTR", sim=str(bench))
    assert "uses the TSP command set" in str(refused.value)
    assert "Command Set > SCPI" in str(refused.value) and "*LANG SCPI" in str(refused.value)


def test_the_2450_twin_keeps_its_command_set_over_a_reset() -> None:
    with open_sourcemeter("keithley2450", "GPIB0::18::INSTR", sim=True) as smu:
        smu.instrument.write("*LANG TSP")
        smu.instrument.write("*RST", check=False)
        assert smu.instrument.query("*LANG?") == "TSP"
        smu.instrument.write(":SOUR:VOLT 1", check=False)  # SCPI is not understood in TSP
        assert twin(smu).errors[-1][0] == -113
        smu.instrument.write("*LANG SCPI", check=False)


def test_labrun_run_refuses_the_wrong_model_before_touching_it(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = ServedBench([{"model": "keithley2450"}], port=0).start()
    config = {
        "instrument": {"model": "keithley2400", "address": served.instruments[0].address, "backend": "@py"},
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 3, "compliance": 0.01},
        "save": {"directory": str(tmp_path), "plot": False},
    }
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    try:
        assert main(["run", str(path), "--no-progress"]) == 1
        assert "expected a Keithley 2400 series" in capsys.readouterr().err
        assert not list(tmp_path.glob("*.csv"))
        assert served.instruments[0].twin.log == [b"*IDN?"]  # asked who it is, nothing more
    finally:
        served.stop()


# --------------------------------------------------------- one owner per instrument


def test_two_driver_objects_on_one_address_share_one_device_lock() -> None:
    first = open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True)
    again = open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True)  # a notebook cell run twice
    try:
        assert first.instrument.device_lock is again.instrument.device_lock
        assert first.instrument.io_lock is again.instrument.io_lock
        run = start(IVSweep(first, start=0.0, stop=1.0, num_points=3, delay=5.0, compliance=0.01))
        with pytest.raises(
            DeviceBusy, match=r"GPIB0::24::INSTR is in use by iv_sweep \(run started .* in process \d+\)"
        ):
            start(IVSweep(again, start=0.0, stop=1.0, num_points=3, compliance=0.01), blocking=False)
        run.stop()
        assert run.wait(10)
    finally:
        first.close()
        again.close()


def test_two_threads_on_one_address_run_one_after_the_other() -> None:
    a = open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True)
    b = open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True)
    try:
        sweeps = [
            IVSweep(smu, start=0.0, stop=1.0, num_points=5, delay=0.01, compliance=0.01) for smu in (a, b)
        ]
        runs: list[Run] = []
        run_threads(*(lambda s=s: runs.append(start(s)) for s in sweeps))
        for run in runs:
            run.result(10)
        first, second = sorted((r.progress for r in runs), key=lambda p: p.started or 0)
        assert first.finished is not None and second.started is not None
        assert second.started >= first.finished  # never at once
    finally:
        a.close()
        b.close()


HOLDER = """
import sys, time
from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, start
smu = open_sourcemeter("keithley2450", sys.argv[1], backend="@py")
run = start(IVSweep(smu, start=0.0, stop=1.0, num_points=2000, delay=0.05, compliance=0.01))
while run.progress.step < 1:
    time.sleep(0.005)
print("holding", flush=True)
run.result()
"""


def start_holder(tmp_path: pathlib.Path, address: str) -> subprocess.Popen[str]:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER, encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, str(script), address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    return holder


def test_across_processes_the_lock_names_its_holder_and_a_dead_ones_is_taken_over(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LABRUN_LOCK_DIR", str(tmp_path / "locks"))
    with ServedBench([{"model": "keithley2450"}], port=0) as served:
        address = served.instruments[0].address
        holder = start_holder(tmp_path, address)
        try:
            with open_sourcemeter("keithley2450", address, backend="@py") as smu:
                sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=3, compliance=0.01)
                with pytest.raises(DeviceBusy) as busy:
                    start(sweep, blocking=False)
                assert f"in use by process {holder.pid} ({tmp_path / 'holder.py'} {address}), since " in str(
                    busy.value
                )
                holder.kill()  # kill -9: nothing of it runs; the OS frees its lock file
                holder.wait(10)
                with caplog.at_level(logging.WARNING):
                    assert len(start(sweep, blocking=False).result(10)["current"]) == 3
                assert f"taking over the lock left by process {holder.pid}" in caplog.text
        finally:
            holder.kill()
            holder.communicate(timeout=10)


def test_labrun_run_on_a_busy_instrument_exits_1_naming_the_holder_and_touches_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LABRUN_LOCK_DIR", str(tmp_path / "locks"))
    with ServedBench([{"model": "keithley2450"}], port=0) as served:
        address = served.instruments[0].address
        holder = start_holder(tmp_path, address)
        try:
            config = {
                "instrument": {"model": "keithley2450", "address": address, "backend": "@py"},
                "experiment": {
                    "type": "iv_sweep",
                    "start": 0,
                    "stop": 1,
                    "num_points": 3,
                    "compliance": 0.01,
                },
                "save": {"directory": str(tmp_path / "data"), "plot": False},
            }
            path = tmp_path / "busy.yaml"
            path.write_text(yaml.safe_dump(config), encoding="utf-8")
            connections = served.instruments[0].connections
            assert main(["run", str(path), "--no-progress"]) == 1
            assert f"is in use by process {holder.pid}" in capsys.readouterr().err
            assert served.instruments[0].connections == connections  # not even connected
            assert not (tmp_path / "data").exists()
        finally:
            holder.kill()
            holder.communicate(timeout=10)


# ------------------------------------------------- checks before the output goes on


def test_an_unwritable_data_file_fails_before_the_output_is_switched_on(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("", encoding="utf-8")
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(
            smu, start=0.0, stop=1.0, num_points=3, compliance=0.01, save=Saving(str(blocker / "data"))
        )
        with pytest.raises(OSError):
            sweep.run()
        assert not any(m.startswith(b":OUTP ON") for m in twin(smu).log)
        assert twin(smu).state[(1, "output")] is False
        assert sweep.progress.state == "failed"


# ------------------------------------------------------ a truthful, bounded shutdown


def test_a_fault_in_the_shutdown_fails_the_run_and_says_the_output_may_be_on() -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=5, compliance=0.01)

        def cut_after_the_last_point(point: dict[str, float]) -> None:
            if point["step"] == 4:
                twin(smu).fault = Fault("disconnect", after=twin(smu).answered)

        in_measuring_thread(sweep, cut_after_the_last_point)
        run = start(sweep)
        with pytest.raises(InstrumentError) as failed:
            run.result(10)
        assert run.progress.state == "failed" and run.progress.step == 5
        assert "its output may still be on" in " ".join(failed.value.__notes__)
        twin(smu).fault = None


# --------------------------------------------- subscribers cannot hold a run hostage


def test_a_subscriber_that_blocks_forever_cannot_stop_the_run_or_its_stop() -> None:
    forever = threading.Event()
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=5, delay=10.0, compliance=0.01)

        def blocks(point: dict[str, float]) -> None:
            forever.wait()

        sweep.subscribe(blocks)
        sweep.delay = 0.0
        in_measuring_thread(sweep, lambda point: setattr(sweep, "delay", 10.0))  # then a long wait
        run = start(sweep)
        while run.progress.step < 1:  # a point is with the subscriber, which never returns
            time.sleep(0.001)
        run.stop()
        assert run.wait(10)  # the measuring thread never waited for the subscriber
        assert run.progress.state == "stopped"
        assert twin(smu).state[(1, "output")] is False
    forever.set()


def test_a_subscriber_calling_run_result_gets_a_clear_error_not_a_deadlock() -> None:
    errors: list[str] = []
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=3, compliance=0.01)
        run: Run | None = None

        def waits_for_its_own_run(point: dict[str, float]) -> None:
            assert run is not None
            try:
                run.result()
            except RuntimeError as error:
                errors.append(str(error))

        sweep.subscribe(waits_for_its_own_run)
        run = start(sweep)
        assert len(run.result(10)["current"]) == 3
    assert errors and "would wait for itself" in errors[0] and "run.progress" in errors[0]


def test_a_slow_subscriber_does_not_stretch_the_delays_and_still_gets_every_point() -> None:
    seen: list[float] = []
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=20, delay=0.001, compliance=0.01)

        def slow(point: dict[str, float]) -> None:
            while point["step"] == 0 and sweep.progress.step < 20:  # held until all are measured
                time.sleep(0.001)
            seen.append(point["step"])

        sweep.subscribe(slow)
        assert len(start(sweep).result(20)["current"]) == 20
    assert seen == list(range(20))


def test_a_subscriber_far_behind_loses_the_oldest_points_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(delivery, "CAPACITY", 5)
    seen: list[float] = []
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=30, compliance=0.01)

        all_queued = threading.Event()  # set in the measuring thread after the last point's hand-off
        in_measuring_thread(sweep, lambda point: all_queued.set() if point["step"] == 29 else None)

        def behind(point: dict[str, float]) -> None:
            if not seen:  # the first it gets is held until every point is queued
                all_queued.wait(10)
            seen.append(point["step"])

        sweep.subscribe(behind)
        with caplog.at_level(logging.WARNING):
            sweep.run()
    assert seen[-5:] == [25, 26, 27, 28, 29] and len(seen) <= 6  # the newest five (and one in hand)
    assert "5 points behind the measurement: the oldest are dropped" in caplog.text


def test_a_second_run_that_cannot_open_its_file_does_not_report_the_first_runs(
    tmp_path: pathlib.Path,
) -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(
            smu, start=0.0, stop=1.0, num_points=3, compliance=0.01, save=Saving(str(tmp_path / "ok"))
        )
        sweep.run()
        first = sweep.data_file
        assert first is not None
        blocker = tmp_path / "a_file"
        blocker.write_text("", encoding="utf-8")
        sweep.save = Saving(str(blocker / "data"))
        with pytest.raises(OSError) as failed:
            sweep.run()
        assert sweep.data_file is None
        assert str(first.path) not in " ".join(failed.value.__notes__)
