"""Ctrl-C during `labrun run`: output off, data flushed, exit 130 — with a real process."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import time

import pytest

from labrun.experiments import load_data

from .support import labrun_run

SLOW = {
    "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
    "experiment": {
        "type": "iv_sweep",
        "start": "0 V",
        "stop": "2 V",
        "num_points": 200,
        "delay": "200 ms",
        "compliance": "10 mA",
    },
    "save": {"directory": "data", "plot": True},
}


def start_run(tmp_path: pathlib.Path) -> tuple[subprocess.Popen[str], pathlib.Path]:
    return labrun_run(tmp_path, SLOW, verbose=True)


def wait_for_rows(out: pathlib.Path, rows: int, timeout: float = 30.0) -> pathlib.Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in out.glob("*.csv"):
            try:
                if len(load_data(path)) >= rows:
                    return path
            except ValueError:  # created, its header not yet written
                pass
        time.sleep(0.02)
    raise AssertionError(f"no data file with {rows} rows in {out}")


def output_turned_off(stderr: str) -> bool:
    """The DEBUG traffic log shows a last `:OUTP OFF`, acknowledged with no error."""
    lines = [ln for ln in stderr.splitlines() if "labrun" not in ln or "twin " not in ln]
    sent = [k for k, line in enumerate(lines) if "-> :OUTP OFF;:SYST:ERR:COUN?" in line]
    if not sent:
        return False
    answers = [ln for ln in lines[sent[-1] + 1 :] if "GPIB0::24::INSTR <- " in ln]
    on_again = any("-> :OUTP ON" in ln for ln in lines[sent[-1] :])
    return bool(answers) and answers[0].endswith("<- 0") and not on_again  # no error pending


@pytest.mark.timeout(60)
def test_ctrl_c_turns_the_output_off_keeps_the_data_and_exits_130(tmp_path: pathlib.Path) -> None:
    proc, out = start_run(tmp_path)
    try:
        data_file = wait_for_rows(out, 2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "stopped by SIGINT; output off, data flushed" in stderr
    assert output_turned_off(stderr)
    data = load_data(data_file)
    assert 2 <= len(data) < 200
    # the levels of the sweep, in order: 0 to 2 V in 199 steps
    assert data["source"].tolist() == pytest.approx([2.0 * i / 199 for i in range(len(data))])
    assert str(data_file) in stdout
    assert data_file.with_suffix(".png").exists()
