"""A run's record: made when it starts, ended when it ends, in its journal and its catalog.

Why in the engine: only the run's lifecycle knows when the run really began (its
instruments claimed, nothing switched on yet), what the instruments were set to (read back
from them then), and how it ended (completed, stopped by whom, failed with what). The
storage keeps the record (``storage/record.py``), the catalog indexes it; this module only
says when, in two calls a run: :meth:`Recording.begin` and :meth:`Recording.end`.

A catalog that was asked for (a URL, ``$LABRUN_CATALOG``) and cannot take a run's start
fails the run before anything is switched on (nothing lost, the error says why); the
default one (the user's data directory) is only warned about, since a read-only home
must not stop a measurement. One that cannot take the end is logged: the journal's end
line holds it, and the catalog reads it from there when it finds the run left running.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..storage import DataFile, RunEnd, RunRecord, journal_metadata
from .procedure import Procedure
from .states import RunState

if TYPE_CHECKING:
    from ..storage import Catalog, DocumentStream

logger = logging.getLogger(__name__)

CATALOG_VARIABLE = "LABRUN_CATALOG"
#: what ``$LABRUN_CATALOG`` (or ``catalog=``) says to keep no catalog: the journal alone
NO_CATALOG = ("none", "off")

Documents = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class RecordOptions:
    """What a caller adds to a run's record, and where the record goes.

    ``catalog``: a SQLAlchemy URL, or None for ``$LABRUN_CATALOG`` (else the SQLite file in
    the user's data directory); ``"none"`` keeps no catalog. ``config``: ``{"given": the
    YAML as written, "resolved": the validated config}``. ``documents``: a callback that
    gets the run as bluesky event-model documents (``callback(name, doc)``) as it runs.
    """

    catalog: str | None = None
    config: dict[str, Any] | None = None
    tags: Sequence[str] = ()
    note: str = ""
    sequence: dict[str, Any] | None = None
    documents: Documents | None = None


def catalog_of(url: str | None) -> Catalog | None:
    """The catalog a run is kept in (one per URL in a process), or None for none."""
    chosen = url if url is not None else os.environ.get(CATALOG_VARIABLE)
    if chosen is not None and chosen.strip().lower() in NO_CATALOG:
        return None
    from ..storage import shared_catalog  # SQLAlchemy is imported by the first run that keeps one

    return shared_catalog(chosen or None)


@dataclass
class Recording:
    """One run's record and where it goes (its catalog, its documents' callback)."""

    run_id: str
    options: RecordOptions = field(default_factory=RecordOptions)
    record: RunRecord | None = None
    catalog: Catalog | None = None
    stream: DocumentStream | None = None

    def begin(self, experiment: Procedure, open_journal: Callable[[dict[str, Any]], DataFile | None]) -> None:
        """The record at the start: each instrument's snapshot read back now, the journal
        opened with it in its header, then the catalog's start (one transaction)."""
        options = self.options
        record = RunRecord.new(
            experiment.name,
            run_id=self.run_id,
            parameters=experiment.describe(),
            columns=dict(experiment.columns),
            plot_axes=tuple(experiment.plot_axes),
            family=tuple(experiment.family),
            config=options.config,
            instruments=[{"role": role, **smu.snapshot()} for role, smu in experiment.roles().items()],
            tags=list(options.tags),
            note=options.note,
            sequence=options.sequence,
        )
        journal = open_journal(journal_metadata(record))
        if journal is not None:
            record = dataclasses.replace(record, data_file=str(journal.path.resolve()))
        self.record = record
        chosen = options.catalog is not None or os.environ.get(CATALOG_VARIABLE) is not None
        try:
            catalog = catalog_of(options.catalog)
            if catalog is not None:
                catalog.started(record)
        except Exception as error:
            if chosen:  # the catalog asked for: a run it cannot keep does not start
                url = options.catalog or os.environ.get(CATALOG_VARIABLE)
                error.add_note(f"the run's record could not be kept in the catalog {url}")
                raise
            logger.warning(  # the default one (a read-only home): the journal keeps the record
                "%s: the default catalog cannot keep this run's record (%s); its data file has it; "
                "choose one with LABRUN_CATALOG, or LABRUN_CATALOG=none",
                self.run_id[:8],
                error,
            )
        else:
            self.catalog = catalog
        if options.documents is not None:
            from ..storage import DocumentStream

            self.stream = DocumentStream(options.documents)
            self.stream.start(record)

    def end(
        self,
        state: RunState,
        error: BaseException | None,
        stopped_by: str,
        points: int,
        pauses: Sequence[dict[str, Any]] = (),
    ) -> RunEnd:
        """How the run ended, as the record says it (with its pauses)."""
        if state == RunState.FAILED and error is not None:
            return dataclasses.replace(RunEnd.of_error(error, points), pauses=list(pauses))
        if state == RunState.STOPPED:
            return RunEnd(
                "stopped", stopped_by=stopped_by or "run.stop()", points=points, pauses=list(pauses)
            )
        if state == RunState.COMPLETED:
            return RunEnd("completed", points=points, pauses=list(pauses))
        return RunEnd("failed", points=points, pauses=list(pauses))

    def close(self, end: RunEnd) -> None:
        """The end to the catalog and the documents (the journal has its end line already);
        a catalog that fails here is logged, never raised: the measurement is safe on disk."""
        if self.record is not None:
            self.record = self.record.ended_as(end)
        if self.catalog is not None and self.record is not None:
            try:
                self.catalog.ended(self.run_id, end)
            except Exception as error:
                logger.error(
                    "%s: its end (%s) could not be kept in the catalog %s: %s; its journal has it",
                    self.run_id[:8],
                    end.status,
                    self.catalog.url,
                    error,
                )
        if self.stream is not None:
            stream, self.stream = self.stream, None
            try:
                stream.stop(end)
            except Exception:
                logger.exception("%s: the documents' callback failed at the run's end", self.run_id[:8])
