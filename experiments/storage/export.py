"""A run written out for someone else: NetCDF (labelled arrays with units), CSV (a journal
that carries its whole record and end), or JSON (the record and the columns).

Files are never overwritten: an existing ``out`` is refused.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from typing import TYPE_CHECKING, Literal

from .files import COMMENT, META_PREFIX, end_line
from .loading import load_data
from .record import RunRecord, journal_metadata

if TYPE_CHECKING:
    from .catalog import Catalog

Format = Literal["netcdf", "csv", "json"]
FORMATS: tuple[Format, ...] = ("netcdf", "csv", "json")


def export_run(
    run: str | RunRecord,
    format: Format = "netcdf",
    *,
    out: str | os.PathLike[str],
    catalog: Catalog | str | None = None,
) -> pathlib.Path:
    """Write a run (an id, a prefix, or its record) to ``out`` in ``format``; returns the path."""
    from .catalog import shared_catalog
    from .dataset import open_run

    if format not in FORMATS:
        raise ValueError(f"format: {format!r} is not one of {', '.join(FORMATS)}")
    if isinstance(run, RunRecord):
        record = run
    else:
        chosen = shared_catalog(catalog) if catalog is None or isinstance(catalog, str) else catalog
        record = chosen.get(run)
    path = pathlib.Path(out)
    if path.exists():
        raise FileExistsError(f"{path} exists: choose another name (exports never overwrite)")
    if format == "netcdf":
        open_run(record).to_netcdf(path, engine="h5netcdf")
    elif format == "csv":
        write_new(path, _journal_text(record))
    else:
        write_new(path, json.dumps(json_of(record), indent=1, allow_nan=False) + "\n")
    return path


def _data_file(record: RunRecord) -> pathlib.Path:
    if record.data_file is None:
        raise FileNotFoundError(f"run {record.short_id} ({record.experiment}) kept no data file")
    return pathlib.Path(record.data_file)


def _journal_text(record: RunRecord) -> str:
    """The journal's header and rows as written (whole lines), its meta lines led by the
    record as the catalog has it now, and the end line if the run has ended."""
    meta = [f"{META_PREFIX}{json.dumps({k: v}, default=str)}\n" for k, v in journal_metadata(record).items()]
    kept: list[str] = []
    with open(_data_file(record), encoding="utf-8") as fp:
        for line in fp:
            if not line.endswith("\n"):
                break  # a torn last line
            if line.startswith(META_PREFIX):
                key = next(iter(json.loads(line[len(META_PREFIX) :])), None)
                if key not in ("run_id", "record"):
                    meta.append(line)
            elif not line.startswith(COMMENT):
                kept.append(line)
    end = [end_line(record.end)] if record.end is not None else []
    return "".join(meta + kept + end)


def json_of(record: RunRecord) -> dict[str, object]:
    data = load_data(_data_file(record))
    return {
        "record": record.to_dict(),
        "columns": {
            name: {
                "units": record.columns.get(name, ""),
                "values": [None if math.isnan(v) else v for v in values.tolist()],
            }
            for name, values in data.columns.items()
        },
    }


def write_new(path: pathlib.Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as fp:
        fp.write(text)
