"""Helpers shared by the tests."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading
from collections.abc import Callable

from labrun.drivers import SourceMeter
from labrun.sim_devices import SourceMeterTwin, twin_of

#: model -> address on the default simulated bench
BENCH = {
    "keithley2400": "GPIB0::24::INSTR",
    "keithley2450": "GPIB0::18::INSTR",
    "keysight_b2901": "GPIB0::23::INSTR",
}


def twin(driver: SourceMeter) -> SourceMeterTwin:
    """The simulated instrument behind a driver."""
    return twin_of(driver.instrument.resource)


def run_script(script: pathlib.Path, cwd: pathlib.Path) -> str:
    """Run a Python file as a user would (a fresh process, no screen, temp files in
    ``cwd``); fail with its output unless it exits 0. Returns what it printed."""
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env={**os.environ, "MPLBACKEND": "Agg", "TMPDIR": str(cwd)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{script.name} failed\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def run_threads(*targets: Callable[[], None], timeout: float = 10.0) -> None:
    """Each target in a thread (named after it, where it has a name), all started, then
    all joined; one still running after ``timeout`` seconds fails the test as a deadlock."""
    threads = [threading.Thread(target=t, name=getattr(t, "__name__", None)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "deadlock"
