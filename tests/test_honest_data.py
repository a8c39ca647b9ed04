"""Data files that are honest: a full disk, a deleted or truncated file, a closed stdout."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, Saving, load_data, start
from labrun.experiments.cli.main import main
from labrun.experiments.storage import DataFileLost

from .support import in_measuring_thread, open_fds, twin


@pytest.fixture
def small_disk(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A 16 KB tmpfs: a real 'No space left on device' (needs root and mount)."""
    where = tmp_path / "small"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_the_csv_says_what_was_meant(tmp_path: pathlib.Path) -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(
            smu, start=0.0, stop=0.9, num_points=10, compliance=0.5e-3, save=Saving(str(tmp_path))
        )
        sweep.run()
    assert sweep.data_file is not None
    lines = [ln for ln in sweep.data_file.path.read_text().splitlines() if not ln.startswith("#")]
    assert lines[0] == "step,source [V],voltage [V],current [A],timestamp [s],in_compliance"
    first, last = lines[1].split(","), lines[-1].split(",")
    assert first[0] == "0" and last[0] == "9"  # steps are integers
    assert last[1] == "0.9" and lines[2].split(",")[1] == "0.1"  # levels as intended
    assert first[5] == "0" and last[5] == "1"  # 0.9 V into 1 kOhm is over 0.5 mA: in compliance
    data = load_data(sweep.data_file.path)
    assert data["source"][-1] == 0.9 and data["in_compliance"].tolist()[-1] == 1.0


def test_a_full_disk_stops_the_run_safely_and_says_what_was_kept(small_disk: pathlib.Path) -> None:
    fds = open_fds()
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(
            smu, start=0.0, stop=1.0, num_points=2000, compliance=0.01, save=Saving(str(small_disk))
        )
        run = start(sweep)
        with pytest.raises(OSError, match="No space left on device") as failed:
            run.result(30)
        assert run.progress.state == "failed"
        assert twin(smu).state[(1, "output")] is False
        assert sweep.data_file is not None
        rows = sweep.data_file.rows
        measured = len(run.data["current"])  # the rows of the write that failed are not kept
        notes = " ".join(failed.value.__notes__)
        assert (
            f"{rows} points kept in {sweep.data_file.path} ({measured} measured: run.data holds them all)"
            in notes
        )
        assert measured > rows
    assert open_fds() <= fds  # the data file's descriptor is closed
    assert len(load_data(sweep.data_file.path)) == rows  # the file ends with a whole row, as said


def test_labrun_run_on_a_full_disk_exits_1_in_words(
    small_disk: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {
        "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 2000, "compliance": 0.01},
        "save": {"directory": str(small_disk), "plot": True},
    }
    path = tmp_path / "full.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path), "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "No space left on device" in err and "points kept in" in err
    assert "plot not written" in err
    (said,) = [line for line in out.splitlines() if line.startswith("data: ")]
    rows = int(said.split("(")[1].split()[0])
    (data_file,) = small_disk.glob("*.csv")
    assert abs(len(load_data(data_file)) - rows) <= 1  # what it says is what the file holds


@pytest.mark.parametrize("how", ["deleted", "truncated"])
def test_a_data_file_deleted_or_truncated_during_the_run_fails_it(tmp_path: pathlib.Path, how: str) -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=50, compliance=0.01, save=Saving(str(tmp_path)))

        def spoil(point: dict[str, float]) -> None:
            if point["step"] == 5 and sweep.data_file is not None:
                if how == "deleted":
                    sweep.data_file.path.unlink()
                else:
                    os.truncate(sweep.data_file.path, 10)

        in_measuring_thread(sweep, spoil)
        with pytest.raises(DataFileLost, match="deleted or replaced" if how == "deleted" else "cut short"):
            start(sweep).result(10)
        assert sweep.progress.state == "failed"
        assert twin(smu).state[(1, "output")] is False


def test_a_closed_stdout_does_not_fail_a_sweep_that_succeeded(tmp_path: pathlib.Path) -> None:
    config = {
        "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 5, "compliance": 0.01},
        "save": {"directory": str(tmp_path), "plot": True},
    }
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    read, write = os.pipe()
    os.close(read)  # as `| head -0`: nobody reads
    done = subprocess.run(
        [sys.executable, "-m", "labrun.experiments.cli", "run", str(path), "--no-progress"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    os.close(write)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    kept = load_data(next(tmp_path.glob("*.csv")))  # the run went on: every point, as measured
    assert kept["step"].tolist() == [0, 1, 2, 3, 4] and kept["source"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
