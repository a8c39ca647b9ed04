"""Data files: never overwritten, flushed per point, readable after an abrupt end."""

from __future__ import annotations

import pathlib
import threading

import numpy as np
import pytest

from labrun.experiments import DataFile, DataTable, load_data


def test_files_started_in_the_same_second_are_distinct(tmp_path: pathlib.Path) -> None:
    files = [DataFile.create(tmp_path, "run", ("a", "b"), {"n": i}) for i in range(5)]
    paths = {f.path for f in files}
    assert len(paths) == 5
    for f in files:
        f.close()
    assert len({load_data(f.path).metadata["n"] for f in files}) == 5  # none overwritten


def test_each_row_is_on_disk_before_the_next_point(tmp_path: pathlib.Path) -> None:
    f = DataFile.create(tmp_path, "run", ("x", "y"), {"units": {"x": "V", "y": "A"}})
    f.write((1.0, 2.0))
    # read through a separate handle while the writer is still open
    assert len(load_data(f.path)) == 1
    f.write((3.0, 4.0))
    data = load_data(f.path)
    assert data["y"].tolist() == [2.0, 4.0]
    assert data.metadata["units"] == {"x": "V", "y": "A"}
    f.close()


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
