"""A sequence of runs as one labelled set: one ``xarray.Dataset`` of all its runs.

Why one Dataset: a sequence asks one question (how does the curve change with the
compliance and the NPLC?), so its runs belong in one array whose axes are the keys it
stepped: ``ds.current.sel({"experiment.compliance": 0.01})``. Each run keeps its own
dimension (``step`` with its ``source`` for an IV sweep; a grid's indices), shorter runs
padded with NaN.

Shape: a product has a dimension per key (outer first), its values as coordinates; keys
stepped together (``zip``) or an explicit list have one dimension, ``sequence_step``, with
each key a coordinate along it. Either way ``run_id`` and ``status`` say which run each
cell is ("" and "not run" for steps a stopped sequence never made, whose data are NaN).
The sequence's id, kind and keys (values as given, as JSON) are in the attrs.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .dataset import open_run
from .export import Format, json_of, write_new
from .record import RunRecord

if TYPE_CHECKING:
    from .catalog import Catalog

#: the dimension of a sequence's steps when they are not a product
STEP_DIM = "sequence_step"
#: a step a stopped sequence never made
NOT_RUN = "not run"


def open_sequence(sequence: str, catalog: Catalog | str | None = None) -> xr.Dataset:
    """The runs of one sequence (its id, or a prefix of 4+ hex digits) as one Dataset.
    ``catalog``: a :class:`Catalog` or its URL (None: the default)."""
    chosen = _catalog(catalog)
    return sequence_dataset(chosen.runs(sequence=chosen.resolve_sequence(sequence)))


def sequence_runs(sequence: str, catalog: Catalog | str | None = None) -> list[RunRecord]:
    """A sequence's run records in step order."""
    chosen = _catalog(catalog)
    return in_order(chosen.runs(sequence=chosen.resolve_sequence(sequence)))


def in_order(records: Sequence[RunRecord]) -> list[RunRecord]:
    return sorted(records, key=lambda r: int((r.sequence or {}).get("index", 0)))


def sequence_dataset(records: Sequence[RunRecord]) -> xr.Dataset:
    """The Dataset of a sequence's run records (each opened with :func:`open_run`)."""
    records = in_order(records)
    if not records or records[0].sequence is None:
        raise ValueError("a sequence's Dataset needs its runs' records (none given, or not of a sequence)")
    about: dict[str, Any] = records[0].sequence
    of, kind = int(about["of"]), str(about.get("kind", "list"))
    keys = list(about.get("values") or about["keys"])
    made = {int(r.sequence["index"]): r for r in records if r.sequence is not None}
    opened = [_without_attrs(open_run(made[i])) for i in sorted(made)]
    joined = xr.concat(
        opened,
        dim=STEP_DIM,
        join="outer",
        coords="different",
        compat="equals",
        combine_attrs="override",  # each variable's units, from the first run
        fill_value=np.nan,
    )
    joined = joined.assign_coords({STEP_DIM: sorted(made)}).reindex({STEP_DIM: range(of)}, fill_value=np.nan)
    cells: dict[str, Any] = {
        "run_id": [made[i].run_id if i in made else "" for i in range(of)],
        "status": [made[i].status if i in made else NOT_RUN for i in range(of)],
    }
    if kind == "product":
        shape = tuple(int(n) for n in about["shape"])
        axes = about.get("axes", {})
        dataset = _unflatten(joined, keys, shape).assign_coords(
            {k: (k, _coordinate(axes.get(k, [None] * n))) for k, n in zip(keys, shape, strict=True)}
            | {name: (keys, np.asarray(values).reshape(shape)) for name, values in cells.items()}
        )
    else:
        for key in keys:
            cells[key] = _coordinate([_value(made.get(i), key) for i in range(of)])
        dataset = joined.assign_coords({name: (STEP_DIM, values) for name, values in cells.items()})
    for key in keys:
        dataset[key].attrs["units"] = about.get("units", {}).get(key, "")
    dataset.attrs = {
        "sequence_id": str(about["id"]),
        "sequence_kind": kind,
        "sequence_of": of,
        "sequence_runs": len(made),
        "sequence_keys": json.dumps(_given_values(records, keys)),
        "experiment": records[0].experiment,
    }
    return dataset


def export_sequence(
    sequence: str,
    format: Format = "netcdf",
    *,
    out: str | os.PathLike[str],
    catalog: Catalog | str | None = None,
) -> pathlib.Path:
    """Write a sequence to ``out``: NetCDF (its Dataset) or JSON (each run's record and
    columns, in step order); a CSV is a run's journal: export its runs one by one."""
    if format == "csv":
        raise ValueError("a sequence exports as netcdf or json; a CSV is one run's journal (export each run)")
    records = sequence_runs(sequence, catalog)
    path = pathlib.Path(out)
    if path.exists():
        raise FileExistsError(f"{path} exists: choose another name (exports never overwrite)")
    if format == "netcdf":
        sequence_dataset(records).to_netcdf(path, engine="h5netcdf")
    else:
        about = dict(records[0].sequence or {})
        summary = {k: about.get(k) for k in ("id", "of", "kind", "shape", "units")}
        runs = [json_of(r) for r in records]
        write_new(path, json.dumps({"sequence": summary, "runs": runs}, indent=1, allow_nan=False) + "\n")
    return path


def _value(record: RunRecord | None, key: str) -> Any:
    """A step's value of ``key`` as its config read it (None: the step never ran)."""
    return None if record is None else (record.sequence or {}).get("values", {}).get(key)


def _without_attrs(dataset: xr.Dataset) -> xr.Dataset:
    """A run's Dataset without its record (the sequence's attrs replace it); units stay."""
    dataset.attrs = {}
    return dataset


def _unflatten(flat: xr.Dataset, keys: list[str], shape: tuple[int, ...]) -> xr.Dataset:
    """The steps' dimension split into one per key of a product (outer first)."""

    def split(variable: xr.Variable) -> xr.Variable:
        if STEP_DIM not in variable.dims:
            return variable
        rest = [d for d in variable.dims if d != STEP_DIM]
        moved = variable.transpose(STEP_DIM, *rest)
        return xr.Variable([*keys, *rest], moved.values.reshape(shape + moved.shape[1:]), moved.attrs)

    coords = {name: split(v.variable) for name, v in flat.coords.items() if name != STEP_DIM}
    return xr.Dataset({name: split(v.variable) for name, v in flat.data_vars.items()}, coords)


def _coordinate(values: list[Any]) -> np.ndarray[Any, Any]:
    """Values along a key: numbers as floats (NaN where a step never ran), else text."""
    if all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
        return np.array([math.nan if v is None else float(v) for v in values])
    return np.array(["" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values])


def _given_values(records: Sequence[RunRecord], keys: list[str]) -> dict[str, list[Any]]:
    """Each key's values as given, in step order (a product: each axis's own values)."""
    about = records[0].sequence or {}
    if about.get("kind") == "product" and "shape" in about:
        shape = [int(n) for n in about["shape"]]
        axes: dict[str, list[Any]] = {k: [None] * n for k, n in zip(keys, shape, strict=True)}
        for record in records:
            index = int((record.sequence or {})["index"])
            for key, at in zip(keys, np.unravel_index(index, shape), strict=True):
                axes[key][int(at)] = (record.sequence or {})["keys"].get(key)
        return axes
    return {k: [(r.sequence or {})["keys"].get(k) for r in records] for k in keys}


def _catalog(catalog: Catalog | str | None) -> Catalog:
    from .catalog import shared_catalog

    return shared_catalog(catalog) if catalog is None or isinstance(catalog, str) else catalog
