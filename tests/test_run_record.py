"""Every run leaves a record (issue 30, the engine's side): written by the run's lifecycle
for every caller, its snapshot read back from the instrument, its true end — completed,
stopped by whom, failed with what, or lost to a kill -9 — in the journal and the catalog."""

from __future__ import annotations

import os
import pathlib
import signal
from typing import Any

import pytest
import yaml

from labrun.drivers import InstrumentError, SourceMeter, open_sourcemeter
from labrun.experiments import IVSweep, Saving, Worker, load_data, start
from labrun.experiments.cli.main import main
from labrun.experiments.model import fet_output, levels_between
from labrun.experiments.storage import Catalog, RunRecord
from labrun.sim_devices import Fault, bench_in_memory

from .support import BENCH, in_measuring_thread, labrun_run, twin
from .test_interrupt import wait_for_rows


@pytest.fixture
def catalog(tmp_path: pathlib.Path) -> Catalog:
    return Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")


@pytest.fixture
def k2400() -> Any:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, timeout=0.5) as smu:
        yield smu


def sweep(smu: SourceMeter, tmp_path: pathlib.Path, points: int = 5, delay: float = 0.0) -> IVSweep:
    return IVSweep(
        smu, start=0, stop=1, num_points=points, delay=delay, compliance=0.01, save=Saving(str(tmp_path))
    )


def journal_end(path: pathlib.Path) -> dict[str, Any]:
    loaded = load_data(path)
    assert loaded.end is not None, f"{path} has no end line"
    return dict(loaded.end)


def test_a_completed_run_is_in_its_journal_and_its_catalog(
    k2400: SourceMeter, tmp_path: pathlib.Path, catalog: Catalog
) -> None:
    run = start(sweep(k2400, tmp_path), tags=["calibration"], note="first try", catalog=catalog.url)
    run.result(10)
    record = catalog.get(run.short_id)
    assert record.run_id == run.run_id == run.record.run_id  # type: ignore[union-attr]
    assert (record.status, record.points, record.stopped_by, record.error) == ("completed", 5, None, None)
    assert record.tags == ["calibration"] and record.note == "first try"
    assert record.parameters["compliance"] == 0.01 and record.columns["current"] == "A"
    assert record.software["labrun"] and record.host and record.pid == os.getpid()
    assert run.data_file is not None and record.data_file == str(run.data_file.path.resolve())
    assert journal_end(run.data_file.path)["status"] == "completed"
    assert load_data(run.data_file.path).run_id == run.run_id


def test_the_snapshot_is_what_the_instrument_holds_not_what_the_driver_thinks(
    k2400: SourceMeter, tmp_path: pathlib.Path, catalog: Catalog
) -> None:
    k2400.instrument.write(":SENS:CURR:NPLC 0.2;:SENS:VOLT:NPLC 0.2")  # behind the driver's back
    k2400.instrument.write(":SYST:RSEN ON")
    run = start(sweep(k2400, tmp_path), catalog=catalog.url)
    run.result(10)
    (instrument,) = catalog.get(run.run_id).instruments
    assert instrument["role"] == "instrument" and instrument["model"] == "keithley2400"
    assert instrument["address"] == BENCH["keithley2400"] and instrument["backend"] == "@labrun"
    assert "MODEL 2400" in instrument["identity"]
    assert (
        instrument["settings"]["nplc"] == pytest.approx(0.2)
        and instrument["settings"]["remote_sense"] is True
    )
    assert instrument["units"]["voltage_limit"] == "V"


def test_a_stopped_run_says_who_stopped_it(
    k2400: SourceMeter, tmp_path: pathlib.Path, catalog: Catalog
) -> None:
    experiment = sweep(k2400, tmp_path, points=100)
    in_measuring_thread(experiment, lambda p: experiment.stop("the Stop button") if p["step"] == 9 else None)
    run = start(experiment, catalog=catalog.url)
    run.result(10)
    record = catalog.get(run.run_id)
    assert (record.status, record.stopped_by, record.points) == ("stopped", "the Stop button", 10)
    assert run.data_file is not None and journal_end(run.data_file.path)["stopped_by"] == "the Stop button"


def test_a_driver_error_fails_the_run_and_the_record_names_it(
    k2400: SourceMeter, tmp_path: pathlib.Path, catalog: Catalog
) -> None:
    experiment = sweep(k2400, tmp_path, points=100)
    in_measuring_thread(
        experiment,
        lambda p: (
            setattr(twin(k2400), "fault", Fault("error", after=0, code=-363)) if p["step"] == 4 else None
        ),
    )
    run = start(experiment, catalog=catalog.url)
    with pytest.raises(InstrumentError):
        run.result(10)
    record = catalog.get(run.run_id)
    assert run.data_file is not None and journal_end(run.data_file.path)["status"] == "failed"
    assert record.status == "failed" and record.points == len(load_data(run.data_file.path))
    assert 5 <= record.points < 100
    assert (
        record.error is not None
        and record.error["type"] == "InstrumentError"
        and "-363" in record.error["message"]
    )


def test_every_caller_leaves_a_record(tmp_path: pathlib.Path, catalog: Catalog) -> None:
    """A script's start(), experiment.run(), a queue, labrun run, a grid on two channels."""
    url = catalog.url
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        start(sweep(smu, tmp_path), catalog=url).result(10)
        worker = Worker()
        try:
            from labrun.experiments.engine import RecordOptions

            worker.submit(sweep(smu, tmp_path), RecordOptions(catalog=url)).result(10)
        finally:
            worker.stop(timeout=10)
    b2902 = "GPIB0::22::INSTR"
    bench = bench_in_memory([{"address": b2902, "model": "keysight_b2902"}])
    with open_sourcemeter("keysight_b2902", b2902, sim=bench) as smu:
        grid = fet_output(
            smu, smu.channel(2), gate_levels=[1.0], drain_levels=levels_between(0, 1, 3),
            gate_compliance=1e-3, drain_compliance=0.1,
        )  # fmt: skip
        start(grid, catalog=url).result(10)
    config = tmp_path / "iv.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "instrument": {"model": "keithley2450", "address": BENCH["keithley2450"], "sim": True},
                "experiment": {
                    "type": "iv_sweep",
                    "start": 0,
                    "stop": 1,
                    "num_points": 3,
                    "compliance": 0.01,
                },
                "save": {"directory": str(tmp_path), "plot": False},
            }
        )
    )
    assert (
        main(
            [
                "run",
                str(config),
                "--no-progress",
                "--catalog",
                url,
                "--tag",
                "cli",
                "--set",
                "experiment.num_points=4",
            ]
        )
        == 0
    )
    records = catalog.runs()
    assert [r.status for r in records] == ["completed"] * 4
    cli, grid_record, *_ = records  # newest first
    assert cli.tags == ["cli"] and cli.points == 4
    assert cli.config is not None and cli.config["resolved"]["experiment"]["num_points"] == 4
    assert (
        cli.config["given"]["overrides"] == ["experiment.num_points=4"]
        and "num_points: 3" in cli.config["given"]["text"]
    )
    assert [i["role"] for i in grid_record.instruments] == ["gate", "drain"]
    assert [i["channel"] for i in grid_record.instruments] == [1, 2]


def test_without_a_catalog_the_journal_still_has_the_record(
    k2400: SourceMeter, tmp_path: pathlib.Path
) -> None:
    run = start(sweep(k2400, tmp_path), catalog="none")
    run.result(10)
    assert run.record is not None and run.record.status == "completed"
    assert (
        run.data_file is not None and load_data(run.data_file.path).metadata["record"]["run_id"] == run.run_id
    )


def test_documents_follow_the_run_and_a_bluesky_consumer_reads_them(
    k2400: SourceMeter, tmp_path: pathlib.Path
) -> None:
    from bluesky.callbacks.core import CollectThenCompute

    collected = CollectThenCompute()  # type: ignore[no-untyped-call]
    names: list[str] = []

    def callback(name: str, doc: dict[str, Any]) -> None:
        names.append(name)
        collected(name, doc)

    run = start(sweep(k2400, tmp_path, points=4), catalog="none", documents=callback)
    data = run.result(10)
    assert names == ["start", "descriptor", "event", "event", "event", "event", "stop"]
    start_doc, stop_doc = collected._start_doc, collected._stop_doc
    assert start_doc is not None and stop_doc is not None and start_doc["uid"] == run.run_id
    assert stop_doc["exit_status"] == "success" and stop_doc["num_events"]["primary"] == 4
    currents = [event["data"]["current"] for event in collected._events]
    assert currents == pytest.approx(data["current"].tolist())


# ------------------------------------------------------------------ real processes

SLOW = {
    "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
    "experiment": {
        "type": "iv_sweep",
        "start": "0 V",
        "stop": "2 V",
        "num_points": 200,
        "delay": "100 ms",
        "compliance": "10 mA",
    },
    "save": {"directory": "out", "plot": False},
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_and_the_record_names_it(
    tmp_path: pathlib.Path, catalog: Catalog, sig: int, code: int
) -> None:
    proc, out = labrun_run(tmp_path, SLOW, env={"LABRUN_CATALOG": catalog.url})
    try:
        data_file = wait_for_rows(out, 2)
        proc.send_signal(sig)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code
    name = signal.Signals(sig).name
    (record,) = catalog.runs()
    assert (record.status, record.stopped_by) == ("stopped", name)
    assert record.points == len(load_data(data_file)) >= 2
    assert journal_end(data_file)["stopped_by"] == name


@pytest.mark.timeout(60)
def test_a_killed_run_is_reported_lost_with_its_journals_points(
    tmp_path: pathlib.Path, catalog: Catalog
) -> None:
    proc, out = labrun_run(tmp_path, SLOW, env={"LABRUN_CATALOG": catalog.url})
    try:
        data_file = wait_for_rows(out, 3)
        proc.kill()  # kill -9: nothing of labrun runs
        proc.wait(10)
    finally:
        proc.kill()
    assert load_data(data_file).end is None  # the journal just stops
    (record,) = catalog.runs()  # the next open finds the run's process gone
    assert record.status == "lost" and record.points == len(load_data(data_file)) >= 3
    assert isinstance(record, RunRecord) and record.ended is not None
