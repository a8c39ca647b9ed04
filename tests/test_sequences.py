"""Sequences of runs over config keys: the YAML block and ``--over``, every step checked
before the first instrument is touched, each step a full run with its record, a failed
step stopping the sequence or not, a signal ending it, and the sequence as one Dataset.
All on the twins, with few points."""

from __future__ import annotations

import io
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml
from starlette.testclient import TestClient

import labrun
from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, load_data, start
from labrun.experiments.cli.main import main
from labrun.experiments.config import ConfigError, read_config
from labrun.experiments.config.sequence import read_steps
from labrun.experiments.panel import create_app
from labrun.experiments.storage import Catalog, RunRecord
from labrun.experiments.views.live import ProgressDisplay
from labrun.sim_devices import backend
from labrun.sim_devices.timing import LINK_LATENCY, READING_OVERHEAD

from .support import BENCH, snapshot_answers
from .test_interrupt import output_turned_off

BASE: dict[str, Any] = {
    "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
    "experiment": {
        "type": "iv_sweep",
        "start": "-1 V",
        "stop": "1 V",
        "num_points": 4,
        "delay": "0 ms",
        "compliance": "10 mA",
    },
    "save": {"plot": False},
}
COMPLIANCES, NPLCS = ["1 mA", "10 mA", "100 mA"], [0.1, 1]
PRODUCT = {"over": {"experiment.compliance": COMPLIANCES, "instrument.nplc": NPLCS}}


def write(
    tmp_path: pathlib.Path, sequence: Any = None, name: str = "seq.yaml", **experiment: Any
) -> pathlib.Path:
    config = yaml.safe_load(yaml.safe_dump(BASE))
    config["save"]["directory"] = str(tmp_path / "data")
    config["experiment"].update(experiment)
    if sequence is not None:
        config["sequence"] = sequence
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def runs_of(url: str) -> list[RunRecord]:
    """The catalog's runs in step order."""
    with Catalog(url) as catalog:
        return sorted(catalog.runs(), key=lambda r: (r.sequence or {}).get("index", -1))


@pytest.fixture
def url(tmp_path: pathlib.Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


# ------------------------------------------------------------------ a product, end to end


def test_a_3x2_sequence_makes_six_runs_and_one_dataset(
    tmp_path: pathlib.Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, PRODUCT)
    assert main(["run", str(path), "--no-progress", "--catalog", url]) == 0
    out = capsys.readouterr().out
    records = runs_of(url)
    assert len(records) == 6 and len({r.sequence["id"] for r in records if r.sequence}) == 1
    sequence_id = str((records[0].sequence or {})["id"])
    assert f"sequence: {sequence_id} (6 runs, on_error: stop)" in out
    expected = [(c, n) for c in COMPLIANCES for n in NPLCS]  # the first key outermost
    for index, (record, (compliance, nplc)) in enumerate(zip(records, expected, strict=True)):
        assert record.status == "completed" and record.points == 4
        about = record.sequence or {}
        assert (about["index"], about["of"]) == (index, 6)
        assert about["keys"] == {"experiment.compliance": compliance, "instrument.nplc": nplc}
        assert record.parameters["compliance"] == pytest.approx(float(compliance.split()[0]) * 1e-3)
        assert record.instruments[0]["settings"]["nplc"] == pytest.approx(nplc)  # read back from the twin
        assert f"sequence {index + 1}/6: experiment.compliance={compliance}, instrument.nplc={nplc}" in out
    ds = labrun.open_sequence(sequence_id[:8], url)
    assert dict(ds.sizes) == {"experiment.compliance": 3, "instrument.nplc": 2, "step": 4}
    assert ds["experiment.compliance"].values.tolist() == pytest.approx([1e-3, 1e-2, 1e-1])
    assert ds["instrument.nplc"].values.tolist() == pytest.approx(NPLCS)
    assert ds["experiment.compliance"].attrs["units"] == "A" and ds["current"].attrs["units"] == "A"
    assert ds["run_id"].values.ravel().tolist() == [r.run_id for r in records]
    assert ds.attrs["sequence_id"] == sequence_id and ds.attrs["sequence_kind"] == "product"
    assert ds["source"].values.tolist() == pytest.approx([-1.0, -1 / 3, 1 / 3, 1.0])
    # each cell is its run's data, as open_run has it
    for record in records:
        one = labrun.open_run(record.run_id, url)
        cell = ds["current"].where(ds["run_id"] == record.run_id, drop=True).squeeze()
        np.testing.assert_array_equal(cell.values, one["current"].values)
    # the whole set round-trips through NetCDF (h5netcdf), units and ids included
    ds.to_netcdf(tmp_path / "sequence.nc", engine="h5netcdf")
    xr.testing.assert_identical(xr.open_dataset(tmp_path / "sequence.nc", engine="h5netcdf").load(), ds)
    # the catalog lists, shows and exports it as one set
    assert main(["runs", "--sequence", sequence_id[:8], "--catalog", url]) == 0
    assert sorted(re.findall(r"^([0-9a-f]{8}) ", capsys.readouterr().out, re.M)) == sorted(
        r.short_id for r in records
    )
    assert main(["runs", "show", sequence_id[:8], "--catalog", url]) == 0
    shown = capsys.readouterr().out
    assert "6 made: 6 completed" in shown and "5/6" in shown and "experiment.compliance=100 mA" in shown
    exported = tmp_path / "exported.nc"
    assert main(["runs", "export", sequence_id[:8], "--out", str(exported), "--catalog", url]) == 0
    xr.testing.assert_identical(xr.open_dataset(exported, engine="h5netcdf").load(), ds)


def test_over_on_the_command_line_gives_the_yaml_blocks_plan(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_yaml = write(tmp_path, PRODUCT, name="block.yaml")
    plain = write(tmp_path, name="plain.yaml")
    over = ["--over", f"experiment.compliance={','.join(COMPLIANCES)}", "--over", "instrument.nplc=0.1,1"]
    assert main(["check", str(in_yaml)]) == 0
    from_yaml = capsys.readouterr().out.splitlines()
    assert main(["check", str(plain), *over]) == 0
    from_cli = capsys.readouterr().out.splitlines()
    assert from_yaml[1:] == from_cli[1:] and len(from_cli) > 8
    assert from_cli[1].strip().startswith("sequence: 6 runs, a product of experiment.compliance (3)")
    assert from_cli[3].strip() == "2/6: experiment.compliance=1 mA, instrument.nplc=1 (at least 0 s)"
    steps = read_steps(plain, over=over[1::2])
    assert [s.keys for s in steps.steps] == [s.keys for s in read_steps(in_yaml).steps]


def test_the_plan_takes_the_twins_time_model_where_they_keep_it(tmp_path: pathlib.Path) -> None:
    from labrun.experiments.config.plan import sequence_plan

    path = write(tmp_path, {"over": {"experiment.delay": ["10 ms", "20 ms"]}})
    floor = sequence_plan(read_steps(path))
    assert "1/2: experiment.delay=10 ms (at least 0.04 s)" in floor[1] and "at least 0.12 s" in floor[3]
    timed = sequence_plan(read_steps(path, overrides=["instrument.timing=realistic", "instrument.nplc=1"]))
    seconds = [float(m) for m in re.findall(r"about ([0-9.]+) s", "\n".join(timed[1:3]))]
    # each point: its delay, a reading of 1 PLC at 50 Hz with autozero (3 conversions), the
    # level and the reading on the GPIB link, each answered
    point = 3 / 50 + READING_OVERHEAD + 4 * LINK_LATENCY["GPIB"]
    assert seconds == pytest.approx([4 * (d + point) for d in (0.01, 0.02)], rel=0.01)
    assert "(the twins' time model)" in timed[3]


# ----------------------------------------------------------- checked before anything runs


def test_a_bad_value_in_step_5_is_refused_before_step_1_runs(
    tmp_path: pathlib.Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = [{"experiment.compliance": c} for c in ["1 mA", "2 mA", "3 mA", "4 mA", "2 A", "5 mA"]]
    path = write(tmp_path, {"over": steps})
    built = backend.twins_built
    for command in (["check", str(path)], ["run", str(path), "--no-progress", "--catalog", url]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert re.search(
            r"sequence step 5 of 6 \(experiment.compliance=2 A\): experiment.compliance = '2 A'.*1.05 A", err
        ), err
        assert "step 1 " not in err and "step 6 " not in err
    assert backend.twins_built == built  # no instrument was opened
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    assert not (tmp_path / "catalog.sqlite").exists() or runs_of(url) == []


@pytest.mark.parametrize(
    ("sequence", "over", "message"),
    [
        (
            {"over": {"experiment.compliance": []}},
            [],
            r"sequence.over.experiment.compliance = \[\]: a list of values",
        ),
        ({"zip": {"experiment.delay": [0, 1], "instrument.nplc": [1]}}, [], "give each as many values"),
        ({"over": [{"instrument.nplc": 1}, {"experiment.delay": 0}]}, [], "every step sets the same keys"),
        (
            {"over": {"instrument.nplc": [1]}, "zip": {"instrument.nplc": [1]}},
            [],
            "over .* or zip, one of them",
        ),
        (
            {"over": {"instrument.nplc": [1]}, "on_error": "retry"},
            [],
            "on_error = 'retry': one of stop, continue",
        ),
        ({"over": {"instrument.nplc": [1]}, "repeat": 2}, [], "sequence.repeat: unknown key"),
        ({"over": {"sequence.on_error": ["stop"]}}, [], "a config key"),
        (
            {"over": {"experiment.complience": ["1 mA"]}},
            [],
            r"step 1 of 1 .*experiment.complience.*unknown key",
        ),
        (
            {"over": {"x": list(range(101)), "y": list(range(100))}},
            [],
            "10,100 runs: a sequence has at most 10,000",
        ),
        (None, ["instrument.nplc"], "expected KEY=VALUE,VALUE"),
        (None, ["instrument.nplc=[1"], "cannot read"),
        (None, ["instrument.nplc=1", "instrument.nplc=2"], "given twice"),
    ],
)
def test_a_bad_sequence_is_refused_naming_what_is_wrong(
    tmp_path: pathlib.Path, sequence: Any, over: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, sequence)
    assert main(["check", str(path), *(f"--over={o}" for o in over)]) == 2
    assert re.search(message, capsys.readouterr().err)
    with pytest.raises(ConfigError, match=message):
        read_steps(path, over=over)


def test_read_config_refuses_a_sequence_for_one_run(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match=r"a sequence of runs .*read it with read_steps"):
        read_config(write(tmp_path, PRODUCT))


# ------------------------------------------------------------------ a step that fails


@pytest.mark.parametrize("on_error", ["stop", "continue"])
def test_a_failed_step_stops_the_sequence_or_not_and_the_exit_says_1(
    tmp_path: pathlib.Path, url: str, on_error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # an instrument error lands mid-sweep: after the opening, the run's snapshot and a few points
    fault = {"kind": "error", "after": snapshot_answers("keithley2400") + 18}
    path = write(
        tmp_path, {"zip": {"instrument.fault": [None, fault, None]}, "on_error": on_error}, num_points=10
    )
    assert main(["run", str(path), "--no-progress", "--catalog", url]) == 1
    err = capsys.readouterr().err
    assert "labrun: step 2 of 3 failed:" in err and "Device-specific error" in err
    records = runs_of(url)
    statuses = [r.status for r in records]
    assert statuses == (
        ["completed", "failed"] if on_error == "stop" else ["completed", "failed", "completed"]
    )
    failed = records[1]
    assert failed.error is not None and 0 < (failed.points or 0) < 10
    assert len(load_data(failed.data_file or "")) == failed.points  # the points before the fault kept
    assert len(list((tmp_path / "data").glob("*.csv"))) == len(records)


# -------------------------------------------------------------- a signal mid-sequence


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_step_2_ends_the_run_safely_and_starts_no_step_3(
    tmp_path: pathlib.Path, url: str, sig: signal.Signals, code: int
) -> None:
    steps = [("0 ms", 5), ("100 ms", 200), ("0 ms", 5)]  # step 2 slow enough to be caught measuring
    path = write(tmp_path, {"over": [{"experiment.delay": d, "experiment.num_points": n} for d, n in steps]})
    command = ["-m", "labrun.experiments.cli", "-v", "run", str(path), "--no-progress", "--catalog", url]
    with (tmp_path / "stderr.txt").open("w+") as log:  # a file: the traffic log never fills a pipe
        process = subprocess.Popen(
            [sys.executable, *command],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "MPLBACKEND": "Agg"},
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # step 2's journal, with two points in it
                files = sorted((tmp_path / "data").glob("*.csv")) if (tmp_path / "data").exists() else []
                if len(files) == 2 and _rows(files[1]) >= 2:
                    break
                time.sleep(0.02)
            else:
                raise AssertionError("step 2 never started measuring")
            process.send_signal(sig)
            out, _ = process.communicate(timeout=30)
        finally:
            process.kill()
        log.seek(0)
        err = log.read()
    assert process.returncode == code, err[-2000:]
    assert f"stopped by {sig.name}: no further step started" in out
    assert output_turned_off(err)  # the last thing step 2 told the instrument
    records = runs_of(url)
    assert [r.status for r in records] == ["completed", "stopped"] and records[1].stopped_by == sig.name
    assert len(list((tmp_path / "data").glob("*.csv"))) == 2  # no step 3
    assert 2 <= (records[1].points or 0) < 200


def _rows(path: pathlib.Path) -> int:
    try:
        return len(load_data(path))
    except ValueError:  # its header not written yet
        return 0


# ------------------------------------------------------ a list, and runs of other lengths


def test_a_list_of_steps_is_one_dimension_and_shorter_runs_are_padded(
    tmp_path: pathlib.Path, url: str
) -> None:
    steps = [{"experiment.num_points": n, "instrument.sense": s} for n, s in ((3, "2-wire"), (5, "4-wire"))]
    assert main(["run", str(write(tmp_path, {"over": steps})), "--no-progress", "--catalog", url]) == 0
    records = runs_of(url)
    ds = labrun.open_sequence(str((records[0].sequence or {})["id"]), Catalog(url))
    assert dict(ds.sizes) == {"sequence_step": 2, "step": 5}
    assert ds["experiment.num_points"].values.tolist() == [3.0, 5.0]
    assert ds["instrument.sense"].values.tolist() == ["2-wire", "4-wire"]
    assert ds["run_id"].values.tolist() == [r.run_id for r in records]
    assert np.isnan(ds["current"].values[0, 3:]).all() and not np.isnan(ds["current"].values[1]).any()
    assert ds["source"].dims == ("sequence_step", "step")  # each run's own levels
    ds.to_netcdf(tmp_path / "list.nc", engine="h5netcdf")
    xr.testing.assert_identical(xr.open_dataset(tmp_path / "list.nc", engine="h5netcdf").load(), ds)


def test_steps_a_stopped_sequence_never_made_are_there_and_say_not_run(
    tmp_path: pathlib.Path, url: str
) -> None:
    fault = {"kind": "error", "after": snapshot_answers("keithley2400") + 10}
    product = {"over": {"instrument.fault": [None, fault], "experiment.compliance": ["1 mA", "2 mA"]}}
    assert main(["run", str(write(tmp_path, product, num_points=10)), "--no-progress", "--catalog", url]) == 1
    records = runs_of(url)
    assert [r.status for r in records] == ["completed", "completed", "failed"]  # then on_error: stop
    ds = labrun.open_sequence(str((records[0].sequence or {})["id"]), url)
    assert ds["status"].values.tolist() == [["completed", "completed"], ["failed", "not run"]]
    assert ds["experiment.compliance"].values.tolist() == pytest.approx([1e-3, 2e-3])
    assert np.isnan(ds["current"].values[1, 1]).all() and ds["run_id"].values[1, 1] == ""


# ------------------------------------------------------------------- progress and panel


def test_the_progress_bar_carries_the_sequence_position() -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        run = start(IVSweep(smu, start=0, stop=1, num_points=3, compliance=0.01), catalog="none")
        shown, plain = io.StringIO(), io.StringIO()
        bar = ProgressDisplay(run, step_of=(3, 6), file=shown)
        run.result(10)
        bar.close()
        ProgressDisplay(run, file=plain).close()
    assert "iv_sweep [3/6]: 100%" in shown.getvalue() and "3/3" in shown.getvalue()
    assert "iv_sweep: " in plain.getvalue() and "[" not in plain.getvalue().split(":")[0]


def test_the_panel_queues_a_sequence_as_its_steps_and_drops_the_rest_when_one_fails(
    tmp_path: pathlib.Path, url: str
) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    fault = {"kind": "error", "after": snapshot_answers("keithley2400") + 18}
    write(configs, {"over": {"experiment.compliance": ["1 mA", "10 mA"]}}, name="pair.yaml", num_points=3)
    write(configs, {"zip": {"instrument.fault": [None, fault, None]}}, name="faulty.yaml", num_points=10)
    with TestClient(create_app(configs, tmp_path / "data", catalog=url)) as client:
        first = client.post("/api/jobs", json={"config": "pair", "values": {}}).json()
        assert first["sequence"]["index"] == 0 and first["sequence"]["of"] == 2
        assert client.post("/api/jobs", json={"config": "pair", "values": {}}).status_code == 409
        done = _finished(client, 2)
        assert [j["state"] for j in done] == ["completed", "completed"]
        assert [j["sequence"]["keys"]["experiment.compliance"] for j in done] == ["1 mA", "10 mA"]
        assert len({j["sequence"]["id"] for j in done}) == 1
        client.post("/api/jobs", json={"config": "faulty", "values": {}})
        faulty = _finished(client, 5)[2:]
        assert [(j["state"], j["sequence"]["index"]) for j in faulty] == [
            ("completed", 0),
            ("failed", 1),
            ("removed", 2),
        ]
        assert faulty[2]["error"] == "not started: step 2 of 3 failed"
    with Catalog(url) as catalog:
        assert len(catalog.runs(sequence=done[0]["sequence"]["id"])) == 2
        assert [r.status for r in catalog.runs(sequence=faulty[0]["sequence"]["id"])] == [
            "failed",
            "completed",
        ]


def _finished(client: TestClient, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The panel's finished jobs, oldest first, once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get("/api/state").json()
        if len(state["finished"]) >= count and not state["queue"] and state["current"] is None:
            return sorted(state["finished"], key=lambda j: j["id"])
        time.sleep(0.02)
    raise AssertionError(f"never {count} finished jobs: {client.get('/api/state').json()}")
