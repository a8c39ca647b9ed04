"""``labrun runs``: list, filter, show, export, tag, note, as a person types them."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import pytest
import xarray as xr

from labrun.experiments.cli.main import main
from labrun.experiments.storage import Catalog, RunEnd, RunRecord

from .records import fet_record, iv_record, iv_rows, write_journal


@pytest.fixture
def catalog(tmp_path: pathlib.Path) -> Catalog:
    """Two finished runs with journals (an IV sweep and a failed FET grid) and one running."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    iv = iv_record(started="2026-12-01T10:00:00+01:00", host="bench-pc")
    fet = fet_record(started="2026-12-02T11:30:00+01:00", host="bench-pc")
    running = iv_record(tags=["diode"])  # this process's: it stays running
    path = write_journal(tmp_path, iv, iv_rows(5), RunEnd("completed", points=5))
    catalog.add([dataclasses.replace(iv, data_file=str(path)), fet, running])
    catalog.ended(iv.run_id, RunEnd("completed", points=5))
    catalog.ended(fet.run_id, RunEnd("failed", error={"type": "DeviceError", "message": "-221"}, points=3))
    return catalog


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_runs_lists_newest_first_with_what_a_person_looks_for(
    catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--catalog", catalog.url]) == 0
    header, *rows = _lines(capsys)
    assert header.split() == ["id", "started", "experiment", "instrument", "status", "points", "tags"]
    running, fet, iv = (catalog.runs()[k] for k in range(3))
    assert [row.split()[0] for row in rows] == [running.short_id, fet.short_id, iv.short_id]
    instrument = ["keysight_b2902", "GPIB0::22::INSTR", "+1"]  # the first, and one more
    assert rows[1].split()[1:] == ["2026-12-02", "11:30:00", "fet_output", *instrument, "failed", "3"]
    assert rows[0].split()[-2:] == ["running", "diode"]


@pytest.mark.parametrize(
    ("options", "experiments"),
    [
        (["--experiment", "iv_sweep"], ["iv_sweep", "iv_sweep"]),
        (["--status", "failed"], ["fet_output"]),
        (["--instrument", "GPIB0::24::INSTR", "--status", "completed"], ["iv_sweep"]),
        (["--since", "2026-12-02"], ["iv_sweep", "fet_output"]),
        (["--tag", "diode"], ["iv_sweep"]),
        (["--limit", "1"], ["iv_sweep"]),
    ],
)
def test_runs_filters(
    catalog: Catalog, capsys: pytest.CaptureFixture[str], options: list[str], experiments: list[str]
) -> None:
    assert main(["runs", "--catalog", catalog.url, *options]) == 0
    assert [row.split()[3] for row in _lines(capsys)[1:]] == experiments


def test_runs_says_when_nothing_matches_and_refuses_a_bad_since(
    catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--catalog", catalog.url, "--experiment", "nothing"]) == 0
    assert "no runs like that in sqlite:///" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["runs", "--catalog", catalog.url, "--since", "yesterday"])
    assert refused.value.code == 2 and "neither an age" in capsys.readouterr().err


def test_runs_show_prints_the_record_and_each_instruments_snapshot(
    catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    fet = catalog.runs(experiment="fet_output")[0]
    assert main(["runs", "show", fet.short_id, "--catalog", catalog.url]) == 0
    text = capsys.readouterr().out
    assert f"run {fet.run_id}" in text and "status:     failed: DeviceError: -221" in text
    name = "'keysight_b2902 at GPIB0::22::INSTR'"
    assert f"instrument (gate): keysight_b2902 {name} at GPIB0::22::INSTR, channel 1 (@labrun)" in text
    assert (
        "nplc: 1.0" in text
        and "current_limit: 0.01 A" in text
        and "identity: KEITHLEY" in text
        and "drain_current [A]" in text
    )
    assert main(["runs", "--catalog", catalog.url, "show", fet.run_id[:6], "--json"]) == 0
    assert RunRecord.from_json(capsys.readouterr().out) == fet


def test_runs_tag_note_and_export(
    catalog: Catalog, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    iv = catalog.runs(experiment="iv_sweep", status="completed")[0]
    url = ["--catalog", catalog.url]
    assert main(["runs", "tag", iv.short_id, "good", "1k", *url]) == 0
    assert _lines(capsys) == [f"{iv.short_id}: tags 1k, good"]
    assert main(["runs", "untag", iv.short_id, "1k", *url]) == 0
    assert main(["runs", "note", iv.short_id, "contacts", "re-made", *url]) == 0
    assert _lines(capsys)[-1] == f"{iv.short_id}: note 'contacts re-made'"
    assert catalog.get(iv.run_id).tags == ["good"] and catalog.get(iv.run_id).note == "contacts re-made"
    out = tmp_path / "iv.nc"
    assert main(["runs", "export", iv.short_id, "--format", "netcdf", "--out", str(out), *url]) == 0
    assert _lines(capsys) == [f"exported: {out}"]
    with xr.open_dataset(out, engine="h5netcdf") as dataset:
        assert dataset["current"].attrs["units"] == "A" and dataset.attrs["status"] == "completed"
    assert (
        main(["runs", "export", iv.short_id, "--format", "json", "--out", str(tmp_path / "iv.json"), *url])
        == 0
    )
    assert json.loads((tmp_path / "iv.json").read_text())["record"]["note"] == "contacts re-made"


def test_runs_errors_say_what_is_wrong(
    catalog: Catalog, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    url = ["--catalog", catalog.url]
    assert main(["runs", "show", "0000", *url]) == 2
    assert "no run '0000'" in capsys.readouterr().err
    assert main(["runs", "show", "12", *url]) == 2
    assert "4 hex digits at least" in capsys.readouterr().err
    fet = catalog.runs(experiment="fet_output")[0]  # no data file was kept
    assert main(["runs", "export", fet.short_id, "--out", str(tmp_path / "x.nc"), *url]) == 1
    assert "kept no data file" in capsys.readouterr().err
    assert main(["runs", "--catalog", "postgresql+psycopg://nobody@127.0.0.1:1/none"]) == 1
    assert "labrun: the catalog postgresql+psycopg://nobody@127.0.0.1:1/none: OperationalError" in (
        capsys.readouterr().err
    )


def test_runs_in_a_real_process_takes_the_catalog_from_the_environment(catalog: Catalog) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labrun.experiments.cli", "runs", "--status", "completed"],
        env={**os.environ, "LABRUN_CATALOG": catalog.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[3:] == [
        "iv_sweep",
        "keithley2400",
        "GPIB0::24::INSTR",
        "completed",
        "5",
    ]
