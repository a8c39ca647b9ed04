"""Where measured points go: an in-memory table any thread can snapshot, and data files.

Why the table needs no lock: one thread appends, and publishes ``(array, count)`` as a
single reference after the row is written; a reader takes that reference and copies
the first ``count`` rows, which are complete and never written again.

Why the file is CSV, one row appended and flushed per point, opened with mode ``x``:
an abrupt end (crash, ``kill -9``) loses at most the point in flight and the file
still parses; an existing file can never be overwritten.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pathlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

COMMENT = "#"  # lines the loader skips, besides the meta lines
META_PREFIX = "# meta: "


class DataTable:
    """Rows of floats appended by one thread, snapshotted by any thread."""

    def __init__(self, columns: Sequence[str], capacity: int = 256) -> None:
        self.columns = tuple(columns)
        self._published: tuple[Array, int] = (np.empty((max(capacity, 1), len(self.columns))), 0)

    def append(self, row: Sequence[float]) -> None:
        array, count = self._published
        if count == len(array):  # grow by doubling: memory follows the data kept
            bigger = np.empty((2 * len(array), len(self.columns)))
            bigger[:count] = array[:count]
            array = bigger
        array[count] = row
        self._published = (array, count + 1)  # one reference: readers see all or nothing

    def __len__(self) -> int:
        return self._published[1]

    def snapshot(self) -> dict[str, Array]:
        """Every row so far, one numpy array per column (copies: safe to keep)."""
        array, count = self._published
        block = array[:count].copy()
        return {name: block[:, i] for i, name in enumerate(self.columns)}

    def last(self) -> dict[str, float] | None:
        array, count = self._published
        if not count:
            return None
        return {name: float(v) for name, v in zip(self.columns, array[count - 1], strict=True)}


def unique_path(directory: pathlib.Path, stem: str, suffix: str = ".csv") -> tuple[pathlib.Path, TextIO]:
    """Create and open a new file ``stem_YYYYmmdd-HHMMSS[_n].csv``: never an existing one.

    Exclusive creation (mode ``x``) makes two runs started in the same second, even in
    two processes, get distinct files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "run"
    for n in range(10_000):
        path = directory / f"{safe}_{stamp}{'' if n == 0 else f'_{n}'}{suffix}"
        try:
            return path, open(path, "x", encoding="utf-8", newline="")
        except FileExistsError:
            continue
    raise FileExistsError(f"no free file name for {safe}_{stamp} in {directory}")


class DataFile:
    """A CSV data file written as points arrive.

    Layout: ``# meta: {json}`` lines (config, instrument, start time, version, units),
    then one header row of column names, then one row per point.
    """

    def __init__(self, path: pathlib.Path, stream: TextIO, columns: Sequence[str]) -> None:
        self.path = path
        self._stream = stream
        self.columns = tuple(columns)
        self.rows = 0

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        stem: str,
        columns: Sequence[str],
        metadata: Mapping[str, Any],
    ) -> DataFile:
        path, stream = unique_path(pathlib.Path(directory), stem)
        for key, value in metadata.items():
            stream.write(f"{META_PREFIX}{json.dumps({key: value}, default=str)}\n")
        stream.write(",".join(columns) + "\n")
        stream.flush()
        return cls(path, stream, columns)

    def write(self, row: Sequence[float]) -> None:
        """Append one row and hand it to the OS at once."""
        self._stream.write(",".join(map(repr, map(float, row))) + "\n")
        self._stream.flush()
        self.rows += 1

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.flush()
            self._stream.close()


@dataclass(frozen=True)
class LoadedData:
    """A data file read back: columns as numpy arrays and the metadata."""

    columns: dict[str, Array]
    metadata: dict[str, Any]

    def __getitem__(self, name: str) -> Array:
        return self.columns[name]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), ()))


def load_data(path: str | os.PathLike[str]) -> LoadedData:
    """Read a data file; a last line cut short by a crash is ignored.

    Also a file still being started (read while its run begins): a meta or header line
    without its newline is not there yet, and a file with no whole header says so.
    """
    metadata: dict[str, Any] = {}
    lines: list[str] = []
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            if not line.endswith("\n"):
                lines.append(line)  # only the last line can be cut short; rows are checked below
            elif line.startswith(META_PREFIX):
                metadata.update(json.loads(line[len(META_PREFIX) :]))
            elif not line.startswith(COMMENT):
                lines.append(line)
    if not lines or not lines[0].endswith("\n"):
        raise ValueError(f"{path}: no column header (yet)")
    names = lines[0].strip().split(",")
    body = [ln for ln in lines[1:] if ln.endswith("\n") and ln.count(",") == len(names) - 1]
    if body:
        table = np.loadtxt(io.StringIO("".join(body)), delimiter=",", ndmin=2)
    else:
        table = np.empty((0, len(names)))
    return LoadedData({n: table[:, i].copy() for i, n in enumerate(names)}, metadata)
