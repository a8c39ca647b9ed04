"""The panel's past runs: the catalog's list, newest first, and one run opened.

Why the catalog's summaries: a lab's catalog holds thousands of runs, and a list read from
its columns takes milliseconds where whole records take most of a second. A run is opened
only if its data file lies in the panel's data directory: the page serves no other file.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labrun.experiments.storage import Catalog, RunNotFound, load_data, shared_catalog

from .web import json_number

#: runs the list shows at most
LIMIT = 100


def routes(data_dir: pathlib.Path, catalog_url: str | None) -> list[Route]:
    """``/api/runs`` (``?status=&experiment=&limit=``) and ``/api/runs/{id}``."""

    def catalog() -> Catalog:
        return shared_catalog(catalog_url)

    async def runs(request: Request) -> Response:
        filters = {k: v for k in ("status", "experiment") if (v := request.query_params.get(k))}
        try:
            limit = max(1, min(int(request.query_params.get("limit", LIMIT)), LIMIT))
        except ValueError:
            return JSONResponse({"error": "limit: a whole number"}, status_code=400)
        listed = await asyncio.to_thread(lambda: catalog().summaries(limit=limit, **filters))
        return JSONResponse({"runs": [_summary(run, data_dir) for run in listed]})

    async def run(request: Request) -> Response:
        try:
            record = await asyncio.to_thread(lambda: catalog().get(request.path_params["id"]))
        except (RunNotFound, ValueError) as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        path = _in_data_dir(record.data_file, data_dir)
        plot = path.with_suffix(".png") if path is not None else None
        seen = ("role", "model", "address", "identity")
        answer: dict[str, Any] = {
            "run_id": record.run_id,
            "experiment": record.experiment,
            "status": record.status,
            "stopped_by": record.stopped_by,
            "error": record.error,
            "points": record.points,
            "started": record.started,
            "ended": record.ended,
            "plot_axes": list(record.plot_axes or ()),
            "family": list(record.family),
            "log_current": record.experiment == "fet_transfer",
            "instruments": [{k: i.get(k) for k in seen} for i in record.instruments],
            "data_file": path.name if path is not None else "",
            "plot_file": plot.name if plot is not None and plot.exists() else "",
            "columns": [],
            "rows": [],
        }
        if path is not None:  # read and made rows away from the event loop: a long run is big
            answer["columns"], answer["rows"] = await asyncio.to_thread(_rows, path)
        return JSONResponse(answer)

    return [Route("/api/runs", runs), Route("/api/runs/{id}", run)]


def _rows(path: pathlib.Path) -> tuple[list[str], list[list[float | None]]]:
    """A data file's columns and its rows, as JSON takes them (NaN as null)."""
    data = load_data(path, skip_bad_rows=True)
    table = [data.columns[c] for c in data.columns]
    return list(data.columns), [[json_number(float(column[k])) for column in table] for k in range(len(data))]


def _summary(run: Any, data_dir: pathlib.Path) -> dict[str, Any]:
    path = _in_data_dir(run.data_file, data_dir)
    return {
        "run_id": run.run_id,
        "short_id": run.short_id,
        "experiment": run.experiment,
        "started": run.started,
        "status": run.status,
        "points": run.points,
        "instrument": run.instrument,
        "tags": list(run.tags),
        "data_file": path.name if path is not None else "",
    }


def _in_data_dir(data_file: str | None, data_dir: pathlib.Path) -> pathlib.Path | None:
    """The run's data file if the panel may serve it (in its data directory), else None."""
    if not data_file:
        return None
    path = pathlib.Path(data_file).resolve()
    return path if path.parent == data_dir and path.is_file() else None
