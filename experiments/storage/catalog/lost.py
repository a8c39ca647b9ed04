"""Runs whose process died: is the process still there, and what did its journal keep?

Why the start time too: a pid is reused (in a container the same few small pids come back
after every restart), so a live process with the run's pid that started after the run did
is another program, and the run is lost all the same.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib

from labrun.drivers.locks import process_alive

from ..files import COMMENT, END_PREFIX
from ..record import RunEnd, epoch_of

#: seconds of doubt in a process's start time (the boot time is whole seconds)
START_SLACK = 2.0


def process_started(pid: int) -> float | None:
    """When a process started, in epoch seconds; None where the system cannot say (not Linux)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        with open("/proc/stat") as fp:
            boot = next(float(line.split()[1]) for line in fp if line.startswith("btime"))
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime, after the name
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def run_process_alive(pid: int, started: str) -> bool:
    """The process that started a run (at ``started``, ISO) is still running."""
    if pid <= 0 or not process_alive(pid):
        return False
    began = process_started(pid)
    return began is None or began <= epoch_of(started) + START_SLACK


def journal_end(data_file: str | None, pid: int, host: str) -> RunEnd:
    """A lost run's end, from what its journal kept: its rows (whole lines only), the time
    of its last write, and its own ``# end:`` line if it wrote one before the catalog heard
    of it (the process died between the two)."""
    why = (
        f"its process ({pid} on {host}) ended without recording the run's end: killed, crashed or powered off"
    )
    if data_file is None:
        return RunEnd("lost", stopped_by=f"{why}; it kept no data file", points=0)
    path = pathlib.Path(data_file)
    try:
        text = path.read_bytes()
        last_write = path.stat().st_mtime
    except OSError as error:
        return RunEnd("lost", stopped_by=f"{why}; its data file cannot be read: {error}", points=0)
    lines = text.split(b"\n")[:-1]  # whole lines: the text after the last newline was torn
    rows = sum(1 for line in lines if not line.startswith(COMMENT.encode())) - 1  # less the header
    for line in reversed(lines):
        if line.startswith(END_PREFIX.encode()):
            try:
                return RunEnd.from_dict(json.loads(line[len(END_PREFIX) :]))
            except (ValueError, TypeError):
                break  # not an end line this version reads: the run is lost as far as we know
    ended = dt.datetime.fromtimestamp(last_write).astimezone().isoformat()
    return RunEnd("lost", stopped_by=why, ended=ended, points=max(rows, 0))
