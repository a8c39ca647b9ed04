"""Analysis that refuses instead of guessing, and leaves nothing behind when killed."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

from labrun.analysis.pool import AnalysisPool
from labrun.drivers.locks import process_alive
from labrun.experiments.cli.main import main


def hum_file(path: pathlib.Path, rows: int = 400, rate: float = 1000.0) -> pathlib.Path:
    """A trace with 50 Hz in its current, as a time trace writes it."""
    t = np.arange(rows) / rate
    lines = ["step,time [s],current [A]"] + [
        f"{i},{float(t[i])!r},{float(1e-6 * np.sin(2 * np.pi * 50 * t[i]))!r}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_row_missing_a_field_is_an_error_naming_its_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = hum_file(tmp_path / "short_rows.csv")
    lines = path.read_text().splitlines()
    for k in range(4, len(lines), 4):  # every 4th row loses its last field
        lines[k] = lines[k].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["analyze", str(path)]) == 2
    assert "line 5: expected 3 numbers (step, time, current)" in capsys.readouterr().err
    assert main(["analyze", str(path), "--skip-bad-rows"]) == 0
    out = capsys.readouterr().out
    assert "skipped: 100 malformed rows" in out


def test_a_torn_last_line_is_still_just_ignored(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = hum_file(tmp_path / "torn.csv")
    path.write_text(path.read_text() + "400,0.4", encoding="utf-8")  # a run cut mid-row
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert float(out.split("current: strongest at ")[1].split(" Hz")[0]) == pytest.approx(50.0, abs=5)


def test_nan_in_a_column_is_reported_not_turned_into_a_peak(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = hum_file(tmp_path / "nan.csv")
    lines = path.read_text().splitlines()
    for k in (10, 20, 30):
        lines[k] = lines[k].rsplit(",", 1)[0] + ",nan"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["analyze", str(path)]) == 2
    assert "column current has 3 NaN or infinite values (rows 10, 20, 30)" in capsys.readouterr().err


def test_a_dead_worker_is_a_message_not_a_traceback(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = AnalysisPool(max_workers=1)
    try:
        pool.spectrum(np.zeros(16), 1.0).result(30)  # the worker is up
        (worker,) = vars(pool.executor)["_processes"].values()
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(10)
        with pytest.raises(BrokenProcessPool):
            pool.spectrum(np.zeros(16), 1.0).result(30)
    finally:
        pool.close()

    from labrun.experiments.cli import analyze

    def dies(*args: object, **kwargs: object) -> None:
        raise BrokenProcessPool("A child process terminated abruptly")

    monkeypatch.setattr(analyze, "analyze_file", dies)
    assert main(["analyze", str(hum_file(tmp_path / "x.csv"))]) == 1
    err = capsys.readouterr().err
    assert "a worker process died (killed, or out of memory)" in err and "Traceback" not in err


HOLDER = """
import sys, time
import numpy as np
from labrun.experiments.engine import exits
from labrun.analysis.pool import AnalysisPool

if __name__ == "__main__":  # spawned workers import this file
    exits.install_signal_handlers()
    pool = AnalysisPool(max_workers=2)
    try:
        futures = [pool.spectrum(np.zeros(2**20), 1.0) for _ in range(2)]
        for f in futures:
            f.result()
        print(" ".join(str(p.pid) for p in pool.executor._processes.values()), flush=True)
        print(" ".join(s._shm.name for kept in pool._segments._kept.values() for s in kept), flush=True)
        time.sleep(60)
    finally:
        pool.close()
"""


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped (process_alive counts those)."""
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return process_alive(pid) and stat.exists() and stat.read_text().split()[2] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_analysis_leaves_no_worker_and_no_shared_memory(tmp_path: pathlib.Path, sig: int) -> None:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    workers = [int(p) for p in proc.stdout.readline().split()]
    segments = proc.stdout.readline().split()
    assert len(workers) == 2 and all(_alive(p) for p in workers)
    assert segments and all(pathlib.Path("/dev/shm", s.lstrip("/")).exists() for s in segments)
    proc.send_signal(sig)
    proc.wait(30)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers) or any(
        pathlib.Path("/dev/shm", s.lstrip("/")).exists() for s in segments
    ):
        assert time.monotonic() < deadline, "a worker or a shared memory segment outlived the analysis"
        time.sleep(0.05)
