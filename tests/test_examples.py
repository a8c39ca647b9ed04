"""Every example runs as a user would run it (a real process, or a real Jupyter kernel)
and says what it claims to show, so the examples never rot."""

from __future__ import annotations

import os
import pathlib
import re

import nbclient
import nbformat
import pytest

from .support import run_script

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def shared_segments() -> set[str]:
    """multiprocessing.shared_memory segments (named psm_...) in /dev/shm."""
    return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")} if os.path.isdir("/dev/shm") else set()


def test_every_example_is_tested() -> None:
    tested = {name for name in CHECKS}
    assert {p.name for p in SCRIPTS} == tested


CHECKS: dict[str, list[str]] = {
    "01_start_and_poll.py": [
        r"started: running=True",
        r"running +\d+/21",
        r"finished: completed, 21 points",
        r"straight-line fit: (99\d|100\d|101\d) ohm",  # the bench's 1 kOhm resistor
    ],
    "02_double_start.py": [
        r"second start refused: iv_sweep is already running",
        r"first run: completed, 11 points",
        r"run again: completed, 11 points",
    ],
    "03_stop.py": [
        r"stopped \d+\.\d ms after stop\(\), though the delay is 10 s",
        r"state: stopped; output on: False",
        r"points kept: (?P<kept>\d+) in memory, (?P=kept) in iv_sweep_\S+\.csv",
    ],
    "04_queue.py": [
        r"sweep to 0\.50 V: completed, 6 points",
        r"sweep to 2\.00 V: completed, 6 points",
        r"still queued: 0",
    ],
    "05_device_lock.py": [
        r"second run is waiting while the first is at step \d",
        r"second driver object, blocking=False: refused: GPIB0::24::INSTR is in use by "
        r"iv_sweep \(run started \d\d:\d\d:\d\d in process \d+\)",
        r"second started \+\d\.\d+ s after the first finished",
        r"two instruments: one sweep alone \d\.\d+ s, two at once \d\.\d+ s",
    ],
    "06_fft_processes_vs_threads.py": [
        r"serial: +\d\.\d+ s",
        r"\d threads: +\d\.\d+ s",
        r"\d processes: +\d\.\d+ s",
        r"segments left after the pool closed: 0",
        r"same spectra all three ways: True",
        r"peaks \(Hz\): \[50, 60, 70, 80, 90, 100, 110, 120\]",
    ],
    "07_bounded_streaming.py": [
        r"block: sent 40 frames, at most (?P<most>\d+) MiB in flight \(capacity 16 MiB\)",
        r"frames\.npy: shape \(40, 256, 1024\), last frame = 39",
        r"drop: +accepted (?P<accepted>\d+), dropped (?P<dropped>\d+), of 100 sent",
    ],
    "08_live_plot.py": [
        r"plotted 41 of 41 points in \d+ refreshes; completed",
        r"no screen: final picture saved to (?P<png>\S+\.png)",
    ],
}


@pytest.mark.parametrize("name", [p.name for p in SCRIPTS])
def test_example(name: str, tmp_path: pathlib.Path) -> None:
    before = shared_segments()
    out = run_script(EXAMPLES / name, tmp_path)
    found: dict[str, str] = {}
    for pattern in CHECKS[name]:
        match = re.search(pattern, out)
        assert match, f"{name}: no line matching {pattern!r} in:\n{out}"
        found.update(match.groupdict())
    assert shared_segments() <= before, "an example left shared memory behind"
    if name == "03_stop.py":
        stop_ms = float(re.search(r"stopped (\S+) ms", out).group(1))  # type: ignore[union-attr]
        assert stop_ms < 5000  # not the 10 s delay; generous for a loaded machine
        assert int(found["kept"]) >= 5
    if name == "07_bounded_streaming.py":
        assert int(found["most"]) <= 16
        assert int(found["accepted"]) + int(found["dropped"]) == 100
    if name == "08_live_plot.py":
        assert pathlib.Path(found["png"]).read_bytes().startswith(b"\x89PNG")


def test_the_notebook_runs_and_stays_usable_while_the_sweep_runs(tmp_path: pathlib.Path) -> None:
    notebook = nbformat.read(EXAMPLES / "live_iv.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    # the second cell ran while the ~10 s sweep was still going
    assert re.search(r"running: True, \d+ points so far, state (running|claiming)", text), text
    done = re.search(r"stopped after (\d+) points; plotted (\d+) in (\d+) pictures", text)
    assert done, text
    assert done.group(1) == done.group(2)  # the last picture shows every point kept
    assert int(done.group(3)) >= 2  # refreshed while running, not only once
    assert "output on: False" in text
    pictures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(pictures) == 1  # one picture, replaced in place
