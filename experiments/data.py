"""Where measured points go: an in-memory table any thread can snapshot, and data files.

Why the table needs no lock: one thread appends, and publishes ``(array, count)`` as a
single reference after the row is written; a reader takes that reference and copies
the first ``count`` rows, which are complete and never written again.

Why the file is CSV, one row appended and flushed per point, opened with mode ``x``:
an abrupt end (crash, ``kill -9``) loses at most the point in flight and the file
still parses; an existing file can never be overwritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
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

    def since(self, start: int) -> tuple[Array, int]:
        """Rows ``start`` .. now (a copy) and how many rows there are: what a poller has not seen."""
        array, count = self._published
        return array[start:count].copy(), count

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


class DataFileLost(OSError):
    """The data file was deleted, replaced or cut short by someone else during the run."""


def header(columns: Sequence[str], units: Mapping[str, str]) -> str:
    """``step,source [V],voltage [V],...``: names with their units, as a person reads them."""
    return ",".join(f"{name} [{units[name]}]" if units.get(name) else name for name in columns)


def format_row(row: Sequence[float | int | bool]) -> str:
    """Integers (a step, a flag) as integers, floats exactly (``repr``), comma-separated."""
    return ",".join(str(int(v)) if isinstance(v, int | np.integer) else repr(float(v)) for v in row)


class DataFile:
    """A CSV data file written as points arrive.

    Layout: ``# meta: {json}`` lines (config, instrument, start time, version, units),
    then one header row of column names with their units, then one row per point.
    After each row the file is checked by identity: deleted, replaced or truncated by
    someone else, it raises :class:`DataFileLost` instead of writing into the void.
    """

    def __init__(self, path: pathlib.Path, stream: TextIO, columns: Sequence[str]) -> None:
        self.path = path
        self._stream = stream
        self.columns = tuple(columns)
        self.rows = 0
        self._fd = stream.fileno()
        self._size = 0

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        stem: str,
        columns: Sequence[str],
        metadata: Mapping[str, Any],
    ) -> DataFile:
        path, stream = unique_path(pathlib.Path(directory), stem)
        data_file = cls(path, stream, columns)
        try:
            for key, value in metadata.items():
                data_file._put(f"{META_PREFIX}{json.dumps({key: value}, default=str)}\n")
            data_file._put(header(columns, metadata.get("units", {})) + "\n")
            data_file._check()
        except BaseException:
            data_file.close()
            raise
        return data_file

    def write(self, row: Sequence[float | int | bool]) -> None:
        """Check the file is still ours, append one row, and hand it to the OS at once."""
        self._check()  # before: a file cut short would be written on past a hole
        text = format_row(row) + "\n"
        self._put(text, len(text))  # a row is ASCII: its length is its size
        self.rows += 1

    def _put(self, text: str, size: int | None = None) -> None:
        self._stream.write(text)
        self._stream.flush()
        self._size += len(text.encode("utf-8")) if size is None else size

    def _check(self) -> None:
        status = os.fstat(self._fd)
        if status.st_nlink == 0:
            raise DataFileLost(
                f"{self.path} was deleted or replaced during the run; {self.rows} rows were in it"
            )
        if status.st_size < self._size:
            raise DataFileLost(
                f"{self.path} was cut short during the run ({status.st_size} of {self._size} bytes left); "
                f"{self.rows} rows had been written"
            )

    def close(self) -> None:
        """Close, whatever state the file is in (a failed flush was reported already)."""
        if self._stream.closed:
            return
        with contextlib.suppress(OSError):  # a full disk makes the flush raise; the fd is closed
            self._stream.close()


@dataclass(frozen=True)
class LoadedData:
    """A data file read back: columns as numpy arrays, the metadata, rows skipped."""

    columns: dict[str, Array]
    metadata: dict[str, Any]
    #: malformed rows left out (only with ``skip_bad_rows=True``): (line number, text)
    skipped: tuple[tuple[int, str], ...] = ()

    def __getitem__(self, name: str) -> Array:
        return self.columns[name]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), ()))


def _numbers(fields: list[str]) -> list[float] | None:
    """The row's values, or None if one is not a number."""
    try:
        return [float(field) for field in fields]
    except ValueError:
        return None


def load_data(path: str | os.PathLike[str], *, skip_bad_rows: bool = False) -> LoadedData:
    """Read a data file; a last line cut short by a crash is ignored.

    Any other malformed row (a field missing, one that is not a number) is an error
    naming its line, or, with ``skip_bad_rows``, left out and listed in ``skipped``:
    a row quietly dropped shifts every sample after it and makes a spectrum lie.
    A file still being started (read while its run begins): a meta or header line
    without its newline is not there yet, and a file with no whole header says so.
    """
    metadata: dict[str, Any] = {}
    lines: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as fp:
        for number, line in enumerate(fp, start=1):
            if not line.endswith("\n"):
                lines.append((number, line))  # only the last line can be cut short
            elif line.startswith(META_PREFIX):
                metadata.update(json.loads(line[len(META_PREFIX) :]))
            elif not line.startswith(COMMENT):
                lines.append((number, line))
    if not lines or not lines[0][1].endswith("\n"):
        raise ValueError(f"{path}: no column header (yet)")
    names = [name.split(" [", 1)[0] for name in lines[0][1].strip().split(",")]  # "voltage [V]" -> voltage
    rows: list[list[float]] = []
    skipped: list[tuple[int, str]] = []
    for number, line in lines[1:]:
        if not line.endswith("\n"):
            continue  # the torn last line of a run that was cut short
        fields = line.rstrip("\n").split(",")
        values = _numbers(fields) if len(fields) == len(names) else None
        if values is not None:
            rows.append(values)
        elif skip_bad_rows:
            skipped.append((number, line.rstrip("\n")))
        else:
            raise ValueError(
                f"{path}: line {number}: expected {len(names)} numbers ({', '.join(names)}), "
                f"got {line.rstrip()[:80]!r}; pass skip_bad_rows (labrun analyze --skip-bad-rows) "
                "to leave such rows out"
            )
    table = np.array(rows, dtype=float) if rows else np.empty((0, len(names)))
    return LoadedData({n: table[:, i].copy() for i, n in enumerate(names)}, metadata, tuple(skipped))
