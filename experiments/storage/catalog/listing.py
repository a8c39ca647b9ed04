"""What a query of the catalog selects, and how its rows become records or summaries.

Why summaries: a list of runs (``labrun runs``, the panel's past runs) shows a few
columns a run; decoding each run's whole record (its snapshot, config and parameters,
kilobytes of JSON) took 0.6 s for 10,000 runs, the columns alone a tenth of that.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, NamedTuple, TypedDict

import sqlalchemy as sa

from ..record import STATUSES, RunRecord, epoch_of
from .schema import run_instruments, run_tags, runs
from .when import since_epoch

Since = dt.datetime | dt.date | str | float
#: hex digits (and the id's dashes) a person types to name a run: 4 at least
PREFIX = re.compile(r"[0-9a-f][0-9a-f-]{3,35}")


class RunNotFound(LookupError):
    """No run has that id or prefix, or more than one has that prefix."""


class NoSuchRun(RunNotFound):
    """No run at all has that id or prefix (it may name a sequence)."""


class RunSummary(NamedTuple):
    """A run as a list shows it: from the catalog's columns, without its record's JSON (a
    named tuple: 0.2 µs to make, a frozen dataclass 1.3 µs, and a list makes thousands)."""

    run_id: str
    experiment: str
    started: str
    status: str
    points: int | None
    #: the first instrument's model and address ("" without one)
    instrument: str
    #: how many instruments the run held
    instruments: int
    tags: tuple[str, ...]
    host: str
    user: str
    data_file: str | None
    note: str

    @property
    def short_id(self) -> str:
        return self.run_id[:8]


class Filters(TypedDict, total=False):
    """What a listing can be narrowed by (``Catalog.runs`` says how each matches)."""

    experiment: str | None
    instrument: str | None
    status: str | None
    since: Since | None
    tag: str | None
    sequence: str | None


def conditions(
    *,
    experiment: str | None = None,
    instrument: str | None = None,
    status: str | None = None,
    since: Since | None = None,
    tag: str | None = None,
    sequence: str | None = None,
) -> list[Any]:
    """The WHERE clauses of a listing's filters (see ``Catalog.runs``)."""
    where: list[Any] = []
    if experiment is not None:
        where.append(runs.c.experiment == experiment)
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
        where.append(runs.c.status == status)
    if since is not None:
        where.append(runs.c.started_at >= since_epoch(since))
    if sequence is not None:
        where.append(runs.c.sequence_id == sequence)
    if instrument is not None:
        i = run_instruments.c
        named = sa.or_(i.model == instrument, i.name == instrument, i.address == instrument)
        where.append(sa.exists().where(i.run_id == runs.c.id, named))
    if tag is not None:
        where.append(sa.exists().where(run_tags.c.run_id == runs.c.id, run_tags.c.tag == tag))
    return where


def newest_first(query: sa.Select[Any], limit: int | None) -> sa.Select[Any]:
    return query.order_by(runs.c.started_at.desc(), runs.c.id).limit(limit)


def tags_of(connection: sa.Connection, chosen: sa.Select[Any]) -> dict[str, list[str]]:
    """Each chosen run's tags (``chosen``: a query whose first column is the run id)."""
    found: dict[str, list[str]] = {}
    query = sa.select(run_tags.c.run_id, run_tags.c.tag).where(run_tags.c.run_id.in_(chosen))
    for run_id, tag in connection.execute(query.order_by(run_tags.c.tag)):
        found.setdefault(run_id, []).append(tag)
    return found


#: the columns a summary is made of, in its fields' order (its tags come from their table)
SUMMARY: tuple[str, ...] = ("id", "experiment", "started", "status", "points", "instrument")
SUMMARY += ("instrument_count", "host", "user_name", "data_file", "note")


def summary_query(where: Sequence[Any], limit: int | None) -> sa.Select[Any]:
    return newest_first(sa.select(*(runs.c[name] for name in SUMMARY)).where(*where), limit)


def summary_of(row: Any, tags: Sequence[str]) -> RunSummary:
    """A row of :data:`SUMMARY` (the summary's fields in order, but its tags)."""
    return RunSummary._make((*row[:7], tuple(tags), *row[7:]))


def row_of(record: RunRecord) -> dict[str, Any]:
    """A record's row in ``runs``: its searchable fields as columns, its start as JSON."""
    first = record.instruments[0] if record.instruments else {}
    return {
        "id": record.run_id,
        "experiment": record.experiment,
        "started": record.started,
        "started_at": epoch_of(record.started),
        "status": record.status,
        "host": record.host,
        "user_name": record.user,
        "pid": record.pid,
        "data_file": record.data_file,
        "sequence_id": (record.sequence or {}).get("id"),
        "note": record.note,
        "instrument": " ".join(str(first[k]) for k in ("model", "address") if first.get(k)),
        "instrument_count": len(record.instruments),
        "stopped_by": record.stopped_by,
        "error": record.error,
        "ended": record.ended,
        "points": record.points,
        "pauses": record.pauses or None,
        "record": record.start_part(),
    }


def instrument_rows(record: RunRecord) -> list[dict[str, Any]]:
    return [
        {"run_id": record.run_id, "position": k}
        | {key: str(snapshot.get(key) or "") for key in ("role", "model", "name", "address")}
        for k, snapshot in enumerate(record.instruments)
    ]


def record_of(row: Any, tags: Sequence[str]) -> RunRecord:
    """A full row of ``runs`` (and the run's tags) as its record."""
    return RunRecord.from_dict(
        {
            **row.record,
            "status": row.status,
            "stopped_by": row.stopped_by,
            "error": row.error,
            "ended": row.ended,
            "points": row.points,
            "pauses": row.pauses or [],
            "note": row.note,
            "tags": list(tags),
        }
    )


def canonical_prefix(text: str) -> str:
    """Lower case, with the dashes of the canonical form (a person may leave them out)."""
    prefix = text.strip().lower()
    if "-" not in prefix and len(prefix) > 8:
        cuts = [c for c in (8, 12, 16, 20) if c < len(prefix)]
        prefix = "-".join(prefix[a:b] for a, b in zip([0, *cuts], [*cuts, None], strict=True))
    if not PREFIX.fullmatch(prefix) or sum(c != "-" for c in prefix) < 4:
        raise RunNotFound(
            f"{text!r} is not a run id: give its first 4 hex digits at least (its short id is 8)"
        )
    return prefix
