"""A run as an ``xarray.Dataset``: labelled arrays with units, the record in its attrs.

Why xarray: a grid run (FET output curves) is a 2-D array with named axes, not a list
of rows; ``ds.drain_current.sel(gate_index=2)`` says what it means, NetCDF keeps it with
its units for any other program, and pint-xarray reads ``attrs["units"]``.

Shape: a sweep's rows run along ``step`` (or ``point`` when a run has no step count),
with the sweep's independent variable (``source``, or ``time`` for a time trace) as a
coordinate on it. A grid's ``<terminal>_index`` columns are its dimensions, each with
``<terminal>_source`` (the levels) as its coordinate; points a run stopped before are NaN.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .loading import LoadedData, load_data
from .record import RunEnd, RunRecord
from .table import Array

if TYPE_CHECKING:
    from .catalog import Catalog

#: the independent variable of a 1-D run, the first of these it has (else its plot's x)
INDEPENDENT = ("source", "time")


def open_run(run: str | RunRecord, catalog: Catalog | str | None = None) -> xr.Dataset:
    """A run of the catalog (an id, a prefix of 4+ hex digits, or its record) as a
    Dataset: its data file's columns, its record (as the catalog has it: status, tags,
    note) in the attrs. ``catalog``: a :class:`Catalog` or its URL (None: the default)."""
    record = run if isinstance(run, RunRecord) else _catalog(catalog).get(run)
    if record.data_file is None:
        raise FileNotFoundError(f"run {record.short_id} ({record.experiment}) kept no data file")
    path = pathlib.Path(record.data_file)
    if not path.exists():
        raise FileNotFoundError(f"run {record.short_id}: its data file {path} is gone (moved or deleted?)")
    return dataset_of(load_data(path), record)


def open_data_file(path: str | os.PathLike[str]) -> xr.Dataset:
    """A data file (a run's journal) as a Dataset, without a catalog: the record its
    header carries, with the end its last line says (a file without one says ``running``:
    killed, or still being written)."""
    data = load_data(path)
    return dataset_of(data, record_of_file(data, path))


def record_of_file(data: LoadedData, path: str | os.PathLike[str]) -> RunRecord | None:
    """The record a journal's header carries, ended as its ``# end:`` line says; None for
    files older than records."""
    if not isinstance(data.metadata.get("record"), Mapping):
        return None
    record = RunRecord.from_dict({**data.metadata["record"], "data_file": str(pathlib.Path(path).resolve())})
    return record.ended_as(RunEnd.from_dict(data.end)) if data.end is not None else record


def dataset_of(data: LoadedData, record: RunRecord | None = None) -> xr.Dataset:
    """The Dataset of a loaded data file and its record (None: the file's metadata only)."""
    units: Mapping[str, str] = record.columns if record is not None else data.metadata.get("units", {})
    columns = data.columns
    grid = [name[: -len("_index")] for name in columns if name.endswith("_index")]
    grid = [t for t in grid if f"{t}_source" in columns]
    if grid and _whole_numbers([columns[f"{t}_index"] for t in grid]):
        dataset = _grid(columns, grid)
    else:
        plot_x = record.plot_axes[0] if record is not None and record.plot_axes else None
        dataset = _sweep(columns, plot_x)
    for name, variable in dataset.variables.items():
        variable.attrs["units"] = units.get(str(name), "")
    dataset.attrs = _attrs(data, record)
    return dataset


def _catalog(catalog: Catalog | str | None) -> Catalog:
    from .catalog import shared_catalog

    return shared_catalog(catalog) if catalog is None or isinstance(catalog, str) else catalog


def _sweep(columns: Mapping[str, Array], plot_x: str | None) -> xr.Dataset:
    count = len(next(iter(columns.values()), ()))
    steps = columns.get("step")
    dim = "step" if steps is not None and np.array_equal(steps, np.arange(count)) else "point"
    coords: dict[str, Any] = {dim: np.arange(count)}
    independent = next((n for n in (*INDEPENDENT, plot_x) if n is not None and n in columns), None)
    if independent is not None and independent != dim:
        coords[independent] = (dim, columns[independent])
    variables = {name: (dim, values) for name, values in columns.items() if name not in coords}
    return xr.Dataset(variables, coords)


def _grid(columns: Mapping[str, Array], terminals: Sequence[str]) -> xr.Dataset:
    """Rows scattered onto the grid their indices name (outer axis first, as written)."""
    dims = [f"{t}_index" for t in terminals]
    where = tuple(columns[d].astype(int) for d in dims)
    shape = tuple(int(w.max()) + 1 if len(w) else 0 for w in where)
    coords: dict[str, Any] = {d: np.arange(n) for d, n in zip(dims, shape, strict=True)}
    for terminal, dim, w, n in zip(terminals, dims, where, shape, strict=True):
        levels = np.full(n, np.nan)
        levels[w[::-1]] = columns[f"{terminal}_source"][::-1]  # each index's first level
        coords[f"{terminal}_source"] = (dim, levels)
    variables = {}
    for name, values in columns.items():
        if name in coords:
            continue
        array = np.full(shape, np.nan)
        array[where] = values
        variables[name] = (dims, array)
    return xr.Dataset(variables, coords)


def _whole_numbers(arrays: Sequence[Array]) -> bool:
    return all(np.all(a >= 0) and np.array_equal(a, np.round(a)) for a in arrays)


def _attrs(data: LoadedData, record: RunRecord | None) -> dict[str, Any]:
    """NetCDF attributes are strings and numbers: the record as JSON, its main fields flat."""
    if record is None:
        return {"labrun_metadata": json.dumps(data.metadata, default=str), "ended": int(data.ended)}
    flat = {
        "run_id": record.run_id,
        "short_id": record.short_id,
        "experiment": record.experiment,
        "status": record.status,
        "started": record.started,
        "ended": record.ended,
        "stopped_by": record.stopped_by,
        "points": record.points,
        "data_file": record.data_file,
        "host": record.host,
        "user": record.user,
        "labrun_version": record.software.get("labrun"),
    }
    attrs = {key: value for key, value in flat.items() if value is not None}
    attrs["labrun_record"] = record.to_json()
    return attrs
