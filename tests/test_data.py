"""Data files: never overwritten, each row handed to the OS as it comes (bursts in batches),
readable after an abrupt end."""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import numpy as np
import pytest

from labrun.experiments import DataFile, DataTable, Experiment, Point, Saving, load_data, start


def test_files_started_in_the_same_second_are_distinct(tmp_path: pathlib.Path) -> None:
    files = [DataFile.create(tmp_path, "run", ("a", "b"), {"n": i}) for i in range(5)]
    paths = {f.path for f in files}
    assert len(paths) == 5
    for f in files:
        f.close()
    assert len({load_data(f.path).metadata["n"] for f in files}) == 5  # none overwritten


def test_each_row_is_on_disk_before_the_next_point(tmp_path: pathlib.Path) -> None:
    """At an instrument's pace (a write interval or more between rows) every row goes at once."""
    f = DataFile.create(tmp_path, "run", ("x", "y"), {"units": {"x": "V", "y": "A"}})
    f.write((1.0, 2.0))
    # read through a separate handle while the writer is still open
    assert len(load_data(f.path)) == 1
    time.sleep(DataFile.WRITE_INTERVAL * 1.1)  # sleep never ends early: the next row goes at once
    f.write((3.0, 4.0))
    data = load_data(f.path)
    assert data["y"].tolist() == [2.0, 4.0]
    assert f.rows == 2
    assert data.metadata["units"] == {"x": "V", "y": "A"}
    f.close()


def test_a_burst_of_rows_is_written_in_batches_and_all_of_it_by_flush(tmp_path: pathlib.Path) -> None:
    f = DataFile.create(tmp_path, "run", ("i", "y"), {})
    f.write_interval = 60.0  # the whole burst within one interval, whatever this machine's pace
    for i in range(2000):
        f.write((i, i / 3))
    assert f.rows == 1 == len(load_data(f.path))  # the first went at once, the rest wait
    f.flush()
    assert f.rows == 2000
    assert load_data(f.path)["y"].tolist() == [i / 3 for i in range(2000)]
    f.write((2000, 1.5))
    f.close()  # writes what is left
    assert len(load_data(f.path)) == f.rows == 2001


class _BurstThenWait(Experiment):
    """A burst of points faster than the write interval, then a long wait (stopped by the test)."""

    name = "burst"
    columns: Mapping[str, str] = MappingProxyType({"step": "", "y": "V"})

    def __init__(self, points: int, save: Saving, waiting: threading.Event) -> None:
        super().__init__(save=save)
        self.points, self.waiting = points, waiting

    def total_steps(self) -> int:
        return self.points + 1

    def steps(self) -> Iterator[Point]:
        for step in range(self.points):
            yield {"step": step, "y": step / 7}
        self.waiting.set()
        if not self.wait(60):  # stopped by the test: the last point is never measured
            yield {"step": self.points, "y": 0.0}


def test_a_run_writes_a_burst_out_before_it_waits(tmp_path: pathlib.Path) -> None:
    waiting = threading.Event()
    burst = _BurstThenWait(500, Saving(str(tmp_path)), waiting)
    run = start(burst)
    assert waiting.wait(30)
    assert burst.data_file is not None
    deadline = time.monotonic() + 30
    while burst.data_file.rows < 500 and time.monotonic() < deadline:
        time.sleep(0.005)  # the flush may still be under way as the flag is set
    assert burst.data_file.rows == 500  # counted once written: the file holds them all
    assert load_data(burst.data_file.path)["y"].tolist() == [k / 7 for k in range(500)]
    assert run.running  # written before the wait, not by the run's end
    run.stop()
    run.result(30)


def test_a_row_cut_short_by_a_crash_is_ignored(tmp_path: pathlib.Path) -> None:
    f = DataFile.create(tmp_path, "run", ("x", "y"), {})
    f.write((1.0, 2.0))
    f.close()
    with open(f.path, "a", encoding="utf-8") as fp:
        fp.write("3.0,")  # the point in flight when the process died
    data = load_data(f.path)
    assert data["x"].tolist() == [1.0]


# cut: empty, in the first meta line, in the last meta line, in the header
@pytest.mark.parametrize("cut", [0, 10, -30, -3])
def test_a_file_read_while_its_header_is_written_says_it_has_none_yet(
    tmp_path: pathlib.Path, cut: int
) -> None:
    f = DataFile.create(tmp_path, "run", ("volts", "amps"), {"config": {"a": 1}, "note": "x" * 20})
    f.close()
    whole = f.path.read_text(encoding="utf-8")
    f.path.write_text(whole[:cut], encoding="utf-8")
    with pytest.raises(ValueError, match="no column header"):
        load_data(f.path)


def test_table_snapshots_are_consistent_while_a_thread_appends() -> None:
    table = DataTable(("i", "twice"), capacity=1)
    done = threading.Event()
    bad: list[int] = []

    def reader() -> None:
        while not done.is_set():
            snap = table.snapshot()
            n = len(snap["i"])
            if len(snap["twice"]) != n or not np.array_equal(snap["twice"], 2 * np.arange(n)):
                bad.append(n)

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(20_000):
        table.append((i, 2 * i))
    done.set()
    thread.join(10)
    assert bad == []
    assert len(table) == 20_000
    assert table.last() == {"i": 19_999.0, "twice": 39_998.0}


def test_a_closed_table_gives_read_only_views_an_open_one_copies() -> None:
    """A finished run's data is not held twice (views), and nobody can change it through them."""
    table = DataTable(("step", "current"))
    table.append([0, 1e-3])
    while_running = table.snapshot()
    while_running["current"][0] = 5.0  # a copy: the table is untouched
    table.append([1, 2e-3])
    table.close()
    done = table.snapshot()
    assert done["current"].tolist() == [1e-3, 2e-3]
    assert not done["current"].flags.writeable and not done["current"].flags.owndata
    with pytest.raises(ValueError, match="read-only"):
        done["current"][0] = 5.0
    with pytest.raises(ValueError, match="the table is closed"):
        table.append([2, 3e-3])
