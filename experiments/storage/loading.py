"""Reading a data file back: strict rows, a torn last line ignored, metadata and the
run's end kept."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .files import COMMENT, END_PREFIX, META_PREFIX
from .table import Array

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedData:
    """A data file read back: columns as numpy arrays, the metadata, rows skipped."""

    columns: dict[str, Array]
    metadata: dict[str, Any]
    #: malformed rows left out (only with ``skip_bad_rows=True``): (line number, text)
    skipped: tuple[tuple[int, str], ...] = ()
    #: the ``# end:`` line (status, stopped_by, error, ended, points); None if there is none
    end: dict[str, Any] | None = None

    @property
    def run_id(self) -> str | None:
        """The run's id (files written before run ids have none)."""
        run_id = self.metadata.get("run_id")
        return str(run_id) if run_id is not None else None

    @property
    def ended(self) -> bool:
        """The run wrote its end line: it finished (completed, stopped or failed). False
        for a run that was killed or is still running, and for files older than end lines."""
        return self.end is not None

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
    A file with a run id but no ``# end:`` line is a run that was killed or is still
    running: it loads (``ended`` False) and a warning says so.
    """
    metadata: dict[str, Any] = {}
    end: dict[str, Any] | None = None
    lines: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as fp:
        for number, line in enumerate(fp, start=1):
            if not line.endswith("\n"):
                lines.append((number, line))  # only the last line can be cut short
            elif line.startswith(META_PREFIX):
                metadata.update(json.loads(line[len(META_PREFIX) :]))
            elif line.startswith(END_PREFIX):
                end = json.loads(line[len(END_PREFIX) :])
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
    if end is None and "run_id" in metadata:  # older files have neither: nothing to say of them
        logger.warning(
            "%s has no end line: the run was killed (kill -9, power cut) or is still running; "
            "its %d rows are kept",
            path,
            len(rows),
        )
    columns = {n: table[:, i].copy() for i, n in enumerate(names)}
    return LoadedData(columns, metadata, tuple(skipped), end)
