"""The catalog of runs: every run's record, found again by experiment, instrument, status,
time, tag or sequence; SQLite by default, PostgreSQL for a lab sharing one.

The engine calls two methods a run, each one short transaction: :meth:`Catalog.started`
and :meth:`Catalog.ended`. Nothing is written per point: the journal (the data file)
holds the points; the catalog says where it is.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable
from typing import Unpack

import sqlalchemy as sa

from ..record import RunEnd, RunRecord
from . import lost
from .listing import (
    Filters,
    NoSuchRun,
    RunNotFound,
    RunSummary,
    canonical_prefix,
    conditions,
    instrument_rows,
    newest_first,
    record_of,
    row_of,
    summary_of,
    summary_query,
    tags_of,
)
from .schema import create_schema, default_url, open_engine, run_instruments, run_tags, runs

logger = logging.getLogger(__name__)


class Catalog:
    """Run records in a database. ``url``: a SQLAlchemy URL; None: ``$LABRUN_CATALOG``, else
    ``catalog.sqlite`` in the user's data directory. The tables are made on first use."""

    def __init__(self, url: str | None = None) -> None:
        self._engine = open_engine(url or default_url())
        self._writer = self._engine.execution_options(labrun_write=True)
        self._ready = False
        self._ready_lock = threading.Lock()
        self.host = socket.gethostname()

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"

    def close(self) -> None:
        """Let go of the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- the engine's two calls

    def started(self, record: RunRecord) -> None:
        """A run began: its record (status "running") in one transaction."""
        self.add([record])

    def ended(self, run_id: str, end: RunEnd) -> None:
        """A run ended: its status, who stopped it, its error, end time and points, in one
        transaction. The true end wins over a ``lost`` another process may have guessed."""
        self._open()
        with self._writer.begin() as connection:
            done = connection.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    status=end.status,
                    stopped_by=end.stopped_by,
                    error=end.error,
                    ended=end.ended,
                    points=end.points,
                    pauses=end.pauses or None,
                )
            )
            if done.rowcount != 1:
                raise RunNotFound(f"no run {run_id} in {self.url}: its end ({end.status}) is not recorded")

    def add(self, records: Iterable[RunRecord]) -> None:
        """Records in one transaction, as they are (ended or not): a run's start, or runs
        kept elsewhere (another catalog, journals found on disk)."""
        self._open()
        rows, instruments, tags = [], [], []
        for record in records:
            rows.append(row_of(record))
            instruments += instrument_rows(record)
            tags += [{"run_id": record.run_id, "tag": tag} for tag in dict.fromkeys(record.tags)]
        if not rows:
            return
        with self._writer.begin() as connection:
            try:
                connection.execute(runs.insert(), rows)
            except sa.exc.IntegrityError:
                raise ValueError(f"a run with one of these ids is in {self.url} already") from None
            if instruments:
                connection.execute(run_instruments.insert(), instruments)
            if tags:
                connection.execute(run_tags.insert(), tags)

    # ------------------------------------------------------------------ finding runs

    def runs(self, *, limit: int | None = None, **filters: Unpack[Filters]) -> list[RunRecord]:
        """Runs newest first, whole records. Filters: ``experiment``, ``instrument`` (a
        model, name or address), ``status``, ``since`` (a date, a time, or an age: "2d",
        "3h"), ``tag``, ``sequence`` (a sequence id). Runs of this host whose process died
        are marked ``lost`` first."""
        query = newest_first(sa.select(runs).where(*conditions(**filters)), limit)
        with self._listing() as connection:
            rows = connection.execute(query).all()
            tags = tags_of(connection, sa.select(query.subquery().c.id))
        return [record_of(row, tags.get(row.id, [])) for row in rows]

    def summaries(self, *, limit: int | None = None, **filters: Unpack[Filters]) -> list[RunSummary]:
        """As :meth:`runs`, but what a list shows (id, start, experiment, first instrument,
        status, points, tags) from the columns alone: ten times faster on many runs."""
        query = summary_query(conditions(**filters), limit)
        with self._listing() as connection:
            rows = connection.execute(query).all()
            tags = tags_of(connection, sa.select(query.subquery().c.id))
        return [summary_of(row, tags.get(row.id, [])) for row in rows]

    def get(self, id_or_prefix: str) -> RunRecord:
        """The run with this id, or the one run whose id starts with this prefix (4 hex
        digits at least: its short id is 8)."""
        return self._get_exact(self.resolve(id_or_prefix))

    def resolve(self, id_or_prefix: str) -> str:
        """The full id a prefix names; :class:`RunNotFound` if none or several do."""
        prefix = canonical_prefix(id_or_prefix)
        with self._listing() as connection:
            found = connection.execute(
                sa.select(runs.c.id, runs.c.experiment, runs.c.started)
                .where(runs.c.id.startswith(prefix, autoescape=True))
                .order_by(runs.c.started_at.desc())
                .limit(6)
            ).all()
        if not found:
            raise NoSuchRun(f"no run {id_or_prefix!r} in {self.url}")
        if len(found) > 1:
            which = "; ".join(f"{r.id[:13]} {r.experiment} {r.started[:19]}" for r in found[:5])
            raise RunNotFound(
                f"{id_or_prefix!r} names {'more than 5' if len(found) > 5 else len(found)} runs ({which}): "
                "type more of the id"
            )
        return str(found[0].id)

    def resolve_sequence(self, id_or_prefix: str) -> str:
        """The full id of the sequence a prefix names (its runs share it);
        :class:`RunNotFound` if no sequence or several have it."""
        prefix = canonical_prefix(id_or_prefix)
        column = runs.c.sequence_id
        with self._listing() as connection:
            query = sa.select(column).where(column.startswith(prefix, autoescape=True)).distinct().limit(6)
            found = [str(found) for found in connection.execute(query).scalars()]
        if len(found) != 1:
            which = f"names {len(found)} sequences ({', '.join(f[:13] for f in found)}): type more of it"
            raise RunNotFound(f"{id_or_prefix!r} {which if found else f'is no sequence in {self.url}'}")
        return found[0]

    # ------------------------------------------------------- what a person adds later

    def tag(self, id_or_prefix: str, *tags: str) -> RunRecord:
        """Add tags (those it has already are kept once); returns the record."""
        run_id = self.resolve(id_or_prefix)
        for tag in tags:
            if not tag.strip():
                raise ValueError("a tag cannot be empty")
        with self._writer.begin() as connection:
            have = set(
                connection.execute(sa.select(run_tags.c.tag).where(run_tags.c.run_id == run_id)).scalars()
            )
            new = [{"run_id": run_id, "tag": tag} for tag in dict.fromkeys(tags) if tag not in have]
            if new:
                connection.execute(run_tags.insert(), new)
        return self.get(run_id)

    def untag(self, id_or_prefix: str, *tags: str) -> RunRecord:
        run_id = self.resolve(id_or_prefix)
        with self._writer.begin() as connection:
            connection.execute(run_tags.delete().where(run_tags.c.run_id == run_id, run_tags.c.tag.in_(tags)))
        return self.get(run_id)

    def set_note(self, id_or_prefix: str, text: str) -> RunRecord:
        """Replace the run's note (free text)."""
        run_id = self.resolve(id_or_prefix)
        with self._writer.begin() as connection:
            connection.execute(runs.update().where(runs.c.id == run_id).values(note=text))
        return self.get(run_id)

    # ------------------------------------------------------------------ lost runs

    def reclaim_lost(self) -> list[RunRecord]:
        """Runs of this host still marked running whose process is gone: marked ``lost``
        (or given the end their journal wrote), each reported in the log; returned."""
        query = sa.select(runs.c.id, runs.c.pid, runs.c.started, runs.c.data_file).where(
            runs.c.status == "running", runs.c.host == self.host
        )
        with self._engine.connect() as connection:
            candidates = connection.execute(query).all()
        gone = [row for row in candidates if not lost.run_process_alive(row.pid, row.started)]
        reclaimed = []
        for row in gone:
            end = lost.journal_end(row.data_file, row.pid, self.host)
            with self._writer.begin() as connection:
                done = connection.execute(
                    runs.update()
                    .where(runs.c.id == row.id, runs.c.status == "running")  # not if it ended meanwhile
                    .values(**end.to_dict())
                )
            if done.rowcount == 1:
                logger.warning(
                    "run %s (started %s) was still marked running but its process %d is gone: %s, %d points "
                    "in its journal %s",
                    row.id[:8],
                    row.started[:19],
                    row.pid,
                    end.status,
                    end.points,
                    row.data_file,
                )
                reclaimed.append(row.id)
        return [self._get_exact(run_id) for run_id in reclaimed]

    # ------------------------------------------------------------------ private

    def _get_exact(self, run_id: str) -> RunRecord:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.id == run_id)).one()
            tags = connection.execute(
                sa.select(run_tags.c.tag).where(run_tags.c.run_id == run_id).order_by(run_tags.c.tag)
            )
            return record_of(row, list(tags.scalars()))

    def _listing(self) -> sa.Connection:
        """A connection to read with, once the lost runs of this host are marked."""
        self._open()
        self.reclaim_lost()
        return self._engine.connect()

    def _open(self) -> None:
        """First use: the tables if needed, then the lost runs of this host."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            with self._writer.begin() as connection:
                create_schema(connection)
            self._ready = True
        self.reclaim_lost()


_shared: dict[str, Catalog] = {}
_shared_lock = threading.Lock()


def shared_catalog(url: str | None = None) -> Catalog:
    """One :class:`Catalog` per URL in a process (``None``: the default, as
    :class:`Catalog` chooses it), so its connections are reused from call to call."""
    url = url or default_url()
    with _shared_lock:
        if url not in _shared:
            _shared[url] = Catalog(url)
        return _shared[url]
