"""Reading runs back: the journal's end line, runs as xarray Datasets (IV and FET grids),
NetCDF round trips with units, exports, and event-model documents a bluesky consumer reads."""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import pint
import pytest
import xarray as xr
from bluesky.callbacks.core import CollectThenCompute
from event_model import DocumentNames, schema_validators

import labrun
from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, Saving, start
from labrun.experiments.storage import (
    Catalog,
    DocumentStream,
    RunEnd,
    RunRecord,
    documents_of,
    export_run,
    load_data,
    open_data_file,
    open_run,
)

from .records import FET_COLUMNS, IV_COLUMNS, fet_record, fet_rows, iv_record, iv_rows, write_journal

GATES, DRAINS = (1.0, 2.0, 3.0), (0.0, 0.5, 1.0, 1.5)


def _catalogued(tmp_path: pathlib.Path, record: RunRecord, rows: Any, end: RunEnd | None) -> Catalog:
    path = write_journal(tmp_path, record, rows, end)
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.started(dataclasses.replace(record, data_file=str(path)))
    if end is not None:
        catalog.ended(record.run_id, end)
    return catalog


# ------------------------------------------------------------------- the journal's end


def test_the_end_line_is_read_back_and_a_file_without_one_says_so(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    record = iv_record()
    end = RunEnd("stopped", stopped_by="Stop button", points=4)
    ended = load_data(write_journal(tmp_path, record, iv_rows(4), end))
    assert ended.end == end.to_dict() and ended.ended and ended.run_id == record.run_id
    assert ended.metadata["record"] == record.to_dict() and len(ended) == 4
    with caplog.at_level(logging.WARNING):
        killed = load_data(write_journal(tmp_path, iv_record(), iv_rows(6), None))
    assert not killed.ended and killed.end is None and len(killed) == 6
    assert "has no end line: the run was killed (kill -9, power cut) or is still running" in caplog.text
    assert "its 6 rows are kept" in caplog.text


def test_files_from_before_records_load_as_before(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.csv"
    path.write_text('# meta: {"experiment": "iv_sweep"}\nstep,current [A]\n0,0.001\n1,0.002\n')
    with caplog.at_level(logging.WARNING):
        data = load_data(path)
    assert data["current"].tolist() == [0.001, 0.002] and data.run_id is None and not data.ended
    assert caplog.text == ""  # nothing to warn of: such files never had an end line
    dataset = open_data_file(path)
    assert dataset["current"].values.tolist() == [0.001, 0.002]
    assert json.loads(dataset.attrs["labrun_metadata"]) == {"experiment": "iv_sweep"}


# ------------------------------------------------------------------- Datasets


def test_an_iv_run_opens_along_its_steps_with_the_source_as_coordinate_and_units(
    tmp_path: pathlib.Path,
) -> None:
    record = iv_record()
    end = RunEnd("completed", points=5)
    catalog = _catalogued(tmp_path, record, iv_rows(5), end)
    dataset = open_run(record.short_id, catalog)
    assert dict(dataset.sizes) == {"step": 5}
    assert dataset["source"].dims == ("step",) and "source" in dataset.coords
    assert dataset["source"].values.tolist() == [row[1] for row in iv_rows(5)]
    assert dataset["current"].values.tolist() == [row[3] for row in iv_rows(5)]
    units: Any = pint.UnitRegistry()
    for name, unit in IV_COLUMNS.items():
        assert dataset[name].attrs["units"] == unit
        units.Quantity(1.0, unit)  # pint reads each of them
    assert (
        units.Quantity(1.0, dataset["current"].attrs["units"]).dimensionality == units.ampere.dimensionality
    )
    assert dataset.attrs["run_id"] == record.run_id and dataset.attrs["status"] == "completed"
    assert dataset.attrs["points"] == 5
    kept = RunRecord.from_json(dataset.attrs["labrun_record"])
    assert kept == dataclasses.replace(record.ended_as(end), data_file=kept.data_file)


def test_a_fet_grid_stopped_early_opens_as_2d_with_both_coordinates_and_nan_where_unmeasured(
    tmp_path: pathlib.Path,
) -> None:
    record = fet_record()
    rows = fet_rows(GATES, DRAINS, 10)  # the third gate's curve stopped after two points
    catalog = _catalogued(tmp_path, record, rows, RunEnd("stopped", stopped_by="SIGINT", points=10))
    dataset = open_run(record.run_id, catalog)
    assert dict(dataset.sizes) == {"gate_index": 3, "drain_index": 4}
    assert dataset["drain_current"].dims == ("gate_index", "drain_index")
    assert dataset["gate_source"].values.tolist() == list(GATES)
    assert dataset["drain_source"].values.tolist() == list(DRAINS)
    current = dataset["drain_current"].values
    for row in rows:
        assert current[int(row[0]), int(row[2])] == row[7]
    assert np.isnan(current[2, 2:]).all() and not np.isnan(current[:2]).any()
    assert dataset["gate_source"].attrs["units"] == "V" and dataset["drain_current"].attrs["units"] == "A"
    assert dataset.attrs["status"] == "stopped" and dataset.attrs["stopped_by"] == "SIGINT"
    curve = dataset["drain_current"].sel(gate_index=1)  # one output curve, by its gate level's index
    assert curve.values.tolist() == [row[7] for row in rows[4:8]]
    assert set(FET_COLUMNS) <= set(dataset.variables)


def test_netcdf_written_with_h5netcdf_reads_back_identically_units_and_record_included(
    tmp_path: pathlib.Path,
) -> None:
    for record, rows in ((iv_record(), iv_rows(7)), (fet_record(), fet_rows(GATES, DRAINS, 9))):
        dataset = open_data_file(write_journal(tmp_path, record, rows, RunEnd("completed", points=len(rows))))
        path = tmp_path / f"{record.short_id}.nc"
        dataset.to_netcdf(path, engine="h5netcdf")
        with xr.open_dataset(path, engine="h5netcdf") as back:
            xr.testing.assert_identical(back.load(), dataset)
            assert {name: v.attrs["units"] for name, v in back.variables.items()} == {
                name: record.columns[str(name)] for name in back.variables
            }
            assert RunRecord.from_json(back.attrs["labrun_record"]).run_id == record.run_id


def test_a_journal_a_real_sweep_wrote_opens_with_its_record_and_its_end(tmp_path: pathlib.Path) -> None:
    """The engine's own data file: the run's record (its id, the instrument read back) in
    the header, real columns, and the end line: a completed run."""
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=6, compliance=0.01, save=Saving(str(tmp_path)))
        run = start(sweep)
        data = run.result(10)
    assert sweep.data_file is not None
    dataset = open_data_file(sweep.data_file.path)
    assert dataset.attrs["status"] == "completed" and dataset.attrs["run_id"] == run.run_id
    record = json.loads(dataset.attrs["labrun_record"])
    (instrument,) = record["instruments"]
    assert instrument["role"] == "instrument" and "MODEL 2400" in instrument["identity"]
    assert record["points"] == 6 and record["parameters"]["num_points"] == 6
    assert dataset["current"].values.tolist() == data["current"].tolist()
    assert dataset["source"].values.tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_import_labrun_stays_cheap_until_a_run_is_opened() -> None:
    code = (
        "import sys, labrun, labrun.experiments\n"
        "assert not {'xarray', 'sqlalchemy', 'event_model'} & set(sys.modules), 'imported too early'\n"
        "assert labrun.open_run.__module__ == 'labrun.experiments.storage.dataset'\n"
        "assert 'xarray' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert labrun.open_data_file is open_data_file


# ------------------------------------------------------------------- exports


def test_exports_write_netcdf_csv_and_json_and_never_overwrite(tmp_path: pathlib.Path) -> None:
    record = fet_record()
    rows = fet_rows(GATES, DRAINS, 12)
    catalog = _catalogued(tmp_path, record, rows, None)  # killed: no end anywhere
    catalog.ended(record.run_id, RunEnd("lost", stopped_by="found dead", points=12))
    nc = export_run(record.short_id, "netcdf", out=tmp_path / "run.nc", catalog=catalog)
    with xr.open_dataset(nc, engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), open_run(record.run_id, catalog))
    csv = export_run(record.short_id, "csv", out=tmp_path / "run.csv", catalog=catalog)
    again = load_data(csv)
    assert again.end is not None and again.end["status"] == "lost"  # the catalog's end, in the copy
    journal = load_data(catalog.get(record.run_id).data_file or "")
    assert again.columns.keys() == journal.columns.keys()
    assert all(np.array_equal(again[name], values) for name, values in journal.columns.items())
    assert again.metadata["record"]["status"] == "lost" and again.metadata["units"] == record.columns
    assert open_data_file(csv).attrs["status"] == "lost"
    out = export_run(record.run_id, "json", out=tmp_path / "run.json", catalog=catalog)
    exported = json.loads(out.read_text())
    assert exported["record"]["status"] == "lost"
    assert exported["columns"]["drain_current"]["values"] == [row[7] for row in rows]
    assert exported["columns"]["drain_current"]["units"] == "A"
    with pytest.raises(FileExistsError, match="never overwrite"):
        export_run(record.run_id, "json", out=out, catalog=catalog)


# ------------------------------------------------------------------- documents


class _Collected(CollectThenCompute):
    """bluesky's own consumer: collects a run's documents, and at the stop reads its data."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.data: dict[str, list[float]] = {}
        self.start_doc: dict[str, Any] = {}
        self.stop_doc: dict[str, Any] = {}

    def compute(self) -> None:
        keys = self._descriptors[0]["data_keys"]
        self.data = {key: [event["data"][key] for event in self._events] for key in keys}
        self.start_doc, self.stop_doc = dict(self._start_doc or {}), dict(self._stop_doc or {})


def _validated(documents: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    for name, doc in documents:
        schema_validators[DocumentNames[name]].validate(doc)
    return documents


@pytest.mark.parametrize(("status", "exit_status"), [("completed", "success"), ("stopped", "abort"),
                                                      ("failed", "fail"), ("lost", "fail")])  # fmt: skip
def test_a_finished_runs_documents_are_valid_and_a_bluesky_consumer_reads_its_data(
    tmp_path: pathlib.Path, status: str, exit_status: str
) -> None:
    record = fet_record()
    end = RunEnd(status, stopped_by="SIGTERM" if status == "stopped" else None, points=10)  # type: ignore[arg-type]
    data = load_data(write_journal(tmp_path, record, fet_rows(GATES, DRAINS, 10), end))
    documents = _validated(list(documents_of(record.ended_as(end), data.columns)))
    assert [name for name, _ in documents] == ["start", "descriptor", *["event"] * 10, "stop"]
    consumer = _Collected()
    for name, doc in documents:
        consumer(name, doc)
    assert consumer.data == {name: values.tolist() for name, values in data.columns.items()}
    assert consumer.start_doc["uid"] == record.run_id and consumer.start_doc["plan_name"] == "fet_output"
    assert consumer.start_doc["instruments"][1]["channel"] == 2
    keys = documents[1][1]["data_keys"]
    assert keys["drain_current"]["units"] == "A" and keys["drain_current"]["shape"] == []
    assert consumer.stop_doc["exit_status"] == exit_status
    assert consumer.stop_doc["num_events"] == {"primary": 10}
    assert consumer.stop_doc["reason"].startswith(status)


def test_a_live_run_streams_its_documents_through_a_subscriber(tmp_path: pathlib.Path) -> None:
    """The engine's way: start(record) as the run starts, point as a run subscriber,
    stop(end) as it ends; a bluesky consumer gets every point the run measured."""
    documents: list[tuple[str, dict[str, Any]]] = []
    consumer = _Collected()

    def both(name: str, doc: dict[str, Any]) -> None:
        documents.append((name, doc))
        consumer(name, doc)

    stream = DocumentStream(both)
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=-1.0, stop=1.0, num_points=21, compliance=0.01)
        record = RunRecord.new(sweep.name, columns=dict(sweep.columns), plot_axes=sweep.plot_axes)
        stream.start(record)
        sweep.subscribe(stream.point)  # every run of it, from its first point
        data = start(sweep).result(10)
    stream.stop(RunEnd("completed", points=len(data["current"])))
    _validated(documents)
    assert consumer.data == {name: values.tolist() for name, values in data.items()}
    assert consumer.stop_doc["exit_status"] == "success" and consumer.stop_doc["num_events"] == {
        "primary": 21
    }
    with pytest.raises(RuntimeError, match="start\\(record\\) first"):
        stream.point({"current": 1.0})
