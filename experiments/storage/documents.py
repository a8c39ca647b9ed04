"""Runs as bluesky's event-model documents: start, one descriptor, events, stop.

Why: the document model is what the bluesky world reads (databroker, tiled, suitcase
serializers, live callbacks), so a labrun run handed over as documents needs no
converter of its own. Every document is checked against event-model's schemas as it is
composed (``validate=False`` skips that for the events of a fast live run).

Two ways: :func:`documents_of` a finished (or running) run, from its record and data;
:class:`DocumentStream` live, its ``point`` method a run subscriber.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import event_model
import numpy as np

from .record import RunEnd, RunRecord, epoch_of

#: a labrun status as bluesky's exit status
EXIT_STATUS = {"completed": "success", "stopped": "abort", "failed": "fail", "lost": "fail"}
STREAM = "primary"
Document = tuple[str, dict[str, Any]]


def start_metadata(record: RunRecord) -> dict[str, Any]:
    """The start document's fields (besides uid and time): the plan's name, parameters,
    the instruments' snapshot, config, software, host; ``hints`` name the x axis."""
    x = _independent(record)
    fields: dict[str, Any] = {
        "plan_name": record.experiment,
        "plan_args": record.parameters,
        "owner": record.user,
        "labrun_short_id": record.short_id,
        "instruments": record.instruments,
        "config": record.config,
        "software": record.software,
        "host": record.host,
        "pid": record.pid,
        "data_file": record.data_file,
        "tags": record.tags,
        "note": record.note,
        "sequence": record.sequence,
        "plot_axes": list(record.plot_axes) if record.plot_axes else None,
        "family": list(record.family),
        "hints": {"dimensions": [[[x], STREAM]]} if x is not None else {},
    }
    return {key: value for key, value in fields.items() if value is not None}


def _independent(record: RunRecord) -> str | None:
    names: tuple[str, ...] = ("source", "time", *(record.plot_axes or ()))
    return next((name for name in names if name in record.columns), None)


class _Composer:
    """event-model's composers for one run, one stream, columns as the record says."""

    def __init__(self, record: RunRecord, columns: Mapping[str, str], validate: bool) -> None:
        self.validate = validate
        self.columns = tuple(columns)
        bundle = event_model.compose_run(
            uid=record.run_id, time=epoch_of(record.started), metadata=start_metadata(record)
        )
        self.start_doc: dict[str, Any] = dict(bundle.start_doc)
        self._compose_stop = bundle.compose_stop
        source = f"labrun:{record.experiment}"
        keys = {
            name: {"dtype": "number", "dtype_numpy": "<f8", "shape": [], "source": source, "units": unit}
            for name, unit in columns.items()
        }
        hints = {"fields": [n for n in (record.plot_axes or ()) if n in columns]}
        descriptor = bundle.compose_descriptor(
            name=STREAM, data_keys=keys, hints={STREAM: hints}, time=epoch_of(record.started)
        )
        self.descriptor_doc: dict[str, Any] = dict(descriptor.descriptor_doc)
        self._compose_event = descriptor.compose_event
        self.events = 0

    def event(self, point: Mapping[str, float], at: float) -> Document:
        data = {name: float(point[name]) for name in self.columns}
        doc = self._compose_event(
            data=data, timestamps=dict.fromkeys(self.columns, at), time=at, validate=self.validate
        )
        self.events += 1
        return "event", dict(doc)

    def stop(self, end: RunEnd) -> Document:
        reason = end.stopped_by or (end.error or {}).get("message", "")
        doc = self._compose_stop(
            exit_status=EXIT_STATUS[end.status],  # type: ignore[arg-type]
            reason=f"{end.status}: {reason}" if reason else end.status,
            time=epoch_of(end.ended) if end.ended else time.time(),
        )
        return "stop", dict(doc)


def documents_of(
    record: RunRecord, data: Mapping[str, Any], *, validate: bool = True
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A run's documents after the fact: start, descriptor, one event per row, and the
    stop if it has ended. ``data``: column -> values (``LoadedData.columns``,
    ``run.data``). Event times are estimated: the start plus the run's ``time`` column,
    or plus its ``timestamp`` (the instrument's clock) from the first row, else the start."""
    columns = {name: record.columns.get(name, "") for name in data}
    composer = _Composer(record, columns, validate)
    yield "start", composer.start_doc
    yield "descriptor", composer.descriptor_doc
    count = len(next(iter(data.values()), ()))
    began = epoch_of(record.started)
    clock = np.asarray(data["time"] if "time" in data else data.get("timestamp", np.zeros(count)), float)
    offsets = clock - clock[0] if count and "time" not in data else clock
    arrays = {name: np.asarray(values, float) for name, values in data.items()}
    for k in range(count):
        yield composer.event({name: a[k] for name, a in arrays.items()}, began + float(offsets[k]))
    if record.end is not None:
        yield composer.stop(record.end)


class DocumentStream:
    """A run's documents to ``callback(name, doc)`` as it runs: ``start(record)`` when it
    starts, ``point`` for each point (a run subscriber: ``run.subscribe(stream.point)``),
    ``stop(end)`` when it ends. Calls come from any thread, one at a time; a point before
    ``start`` or after ``stop`` is an error (the run's order was broken)."""

    def __init__(self, callback: Callable[[str, dict[str, Any]], Any], *, validate: bool = True) -> None:
        self.callback = callback
        self.validate = validate
        self._composer: _Composer | None = None
        self._lock = threading.Lock()

    def start(self, record: RunRecord) -> None:
        with self._lock:
            if self._composer is not None:
                raise RuntimeError(f"this stream has a run already ({self._composer.start_doc['uid']})")
            self._composer = _Composer(record, record.columns, self.validate)
            self.callback("start", self._composer.start_doc)
            self.callback("descriptor", self._composer.descriptor_doc)

    def point(self, point: Mapping[str, float]) -> None:
        with self._lock:
            self.callback(*self._running().event(point, time.time()))

    def stop(self, end: RunEnd) -> None:
        with self._lock:
            composer = self._running()
            self.callback(*composer.stop(end))
            self._composer = None

    def _running(self) -> _Composer:
        if self._composer is None:
            raise RuntimeError("no run in this stream: start(record) first")
        return self._composer
