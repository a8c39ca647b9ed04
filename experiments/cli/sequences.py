"""``labrun runs show`` and ``export`` of a sequence: its runs as one labelled set.

Why the same verbs: a person holds a sequence's id as they hold a run's (``labrun run``
prints both); an id that names no run but a sequence shows or exports the sequence.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from labrun.experiments.storage import RunRecord

if TYPE_CHECKING:
    from labrun.experiments.storage.catalog import Catalog


def sequence_named(catalog: Catalog, given: str) -> str | None:
    """The sequence id ``given`` names if it names no run (None: it names a run); a
    ``RunNotFound`` if it names neither."""
    from labrun.experiments.storage.catalog import NoSuchRun, RunNotFound

    try:
        catalog.resolve(given)
    except NoSuchRun as no_run:
        try:
            return catalog.resolve_sequence(given)
        except RunNotFound as missing:
            if "names" in str(missing):  # several sequences: say so
                raise
            raise RunNotFound(f"{no_run}, nor a sequence") from None
    return None


def describe_sequence(records: list[RunRecord], *, as_json: bool = False) -> str:
    """The sequence as a person reads it: what it stepped, then a line a step made."""
    about = records[0].sequence or {}
    if as_json:
        return json.dumps({"sequence": about.get("id"), "runs": [r.to_dict() for r in records]}, indent=1)
    of, kind = int(about.get("of", len(records))), str(about.get("kind", ""))
    keys = list(about.get("keys", {}))
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    lines = [
        f"sequence {about.get('id')}  ({str(about.get('id'))[:8]})",
        f"experiment: {records[0].experiment}",
        f"steps:      {of}, {kind} of {', '.join(keys)}",
        f"runs:       {len(records)} made: {', '.join(f'{n} {s}' for s, n in statuses.items())}",
    ]
    rows = [("step", "id", "started", "status", "points", "keys")]
    for r in records:
        step = r.sequence or {}
        values = ", ".join(f"{k}={_text(v)}" for k, v in step.get("keys", {}).items())
        points = "" if r.points is None else str(r.points)
        started = r.started[:19].replace("T", " ")
        rows.append((f"{int(step.get('index', 0)) + 1}/{of}", r.short_id, started, r.status, points, values))
    width = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
