"""A run's record: what it was (written at its start) and how it ended (written at its end).

Why a record and not only the data file: a month later a person needs to know which run
a file is, what the instruments were really set to, and whether the sweep finished, was
stopped or crashed; a file that just stops cannot say. The record is plain JSON (dicts,
lists, strings, numbers), so the journal's header, the catalog and exports all keep the
same thing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import getpass
import json
import os
import platform
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, get_args

Status = Literal["running", "completed", "stopped", "failed", "lost"]
STATUSES: tuple[str, ...] = get_args(Status)
#: how a run can end (``running`` is not an end)
END_STATUSES = STATUSES[1:]

#: the packages whose versions a record keeps (the interpreter's is added)
SOFTWARE = ("labrun", "pyvisa", "pyvisa-py", "pyvisa-sim", "numpy")


def now_iso() -> str:
    """Local time with its UTC offset, to the microsecond: sortable, and a person reads it."""
    return dt.datetime.now().astimezone().isoformat()


def epoch_of(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (one without an offset is local time)."""
    moment = dt.datetime.fromisoformat(iso)
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()


@functools.cache
def software_versions() -> dict[str, str]:
    """The versions a run's result may depend on; looked up once per process (each costs
    a scan of the installed packages, milliseconds)."""
    versions = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


@functools.cache
def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return str(os.getuid()) if hasattr(os, "getuid") else ""


@dataclass(frozen=True)
class RunEnd:
    """How a run ended: written once, at its end (by the engine, or by the catalog for a
    run whose process died: ``lost``)."""

    status: Status
    #: who or what stopped it: "Stop button", "SIGINT", "SIGTERM", "run.stop()", a reason
    stopped_by: str | None = None
    #: the error that failed it: {"type": ..., "message": ...}
    error: dict[str, str] | None = None
    ended: str = field(default_factory=now_iso)
    #: the points kept in its data file (or measured, without one)
    points: int = 0
    #: each pause: {"paused": ISO, "resumed": ISO or None, "by": who, "mode": "hold" or
    #: "safe", "after": the points kept before it}
    pauses: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status not in END_STATUSES:
            raise ValueError(f"a run ends as one of {', '.join(END_STATUSES)}, not {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunEnd:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    @classmethod
    def of_error(cls, error: BaseException, points: int) -> RunEnd:
        """A failed run's end: the error's type and message (its notes included)."""
        message = "; ".join([str(error), *getattr(error, "__notes__", ())])
        return cls("failed", error={"type": type(error).__name__, "message": message}, points=points)


END_FIELDS = tuple(f.name for f in dataclasses.fields(RunEnd))


@dataclass(frozen=True)
class RunRecord:
    """Everything known about one run. Make one with :meth:`new`; the end fields stay
    None (``status`` "running") until :meth:`ended` gives the finished record.

    ``instruments``: one snapshot dict each: ``{"role", "model", "name", "address",
    "channel", "backend", "identity", "settings": {...}, "units": {...}, "errors": {...}}``
    (settings read back from the instrument). ``config``: ``{"given": the YAML as
    written or None, "resolved": the validated config with its defaults}``.
    ``sequence``: ``{"id", "index", "of", "keys": {...}}`` for a run of a sequence.
    """

    run_id: str
    experiment: str
    started: str
    parameters: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    plot_axes: tuple[str, str] | None = None
    family: tuple[str, ...] = ()
    config: dict[str, Any] | None = None
    instruments: list[dict[str, Any]] = field(default_factory=list)
    software: dict[str, str] = field(default_factory=dict)
    host: str = ""
    user: str = ""
    pid: int = 0
    data_file: str | None = None
    tags: list[str] = field(default_factory=list)
    note: str = ""
    sequence: dict[str, Any] | None = None
    # ---- the end, None until the run ends
    status: Status = "running"
    stopped_by: str | None = None
    error: dict[str, str] | None = None
    ended: str | None = None
    points: int | None = None
    pauses: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if str(uuid.UUID(self.run_id)) != self.run_id:
            raise ValueError(f"run_id must be a UUID in canonical form, got {self.run_id!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    @classmethod
    def new(cls, experiment: str, **fields: Any) -> RunRecord:
        """A record for a run starting now, in this process: a new id, the start time,
        host, user, pid and software versions filled in (any of them may be given)."""
        defaults: dict[str, Any] = {
            "run_id": str(uuid.uuid4()),
            "started": now_iso(),
            "software": software_versions(),
            "host": socket.gethostname(),
            "user": _user(),
            "pid": os.getpid(),
        }
        return cls(experiment=experiment, **{**defaults, **fields})

    @property
    def short_id(self) -> str:
        """What a person types: the id's first 8 hex digits."""
        return self.run_id[:8]

    @property
    def end(self) -> RunEnd | None:
        """How it ended; None while it runs."""
        if self.status == "running":
            return None
        return RunEnd(
            self.status, self.stopped_by, self.error, self.ended or "", self.points or 0, self.pauses
        )

    def ended_as(self, end: RunEnd) -> RunRecord:
        """The same record with its end."""
        return dataclasses.replace(self, **end.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (tuples as lists)."""
        data = dataclasses.asdict(self)
        data["plot_axes"] = list(self.plot_axes) if self.plot_axes is not None else None
        data["family"] = list(self.family)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """From :meth:`to_dict`'s form; keys this version does not know are left out (a
        record written by a newer labrun still reads)."""
        values = {k: v for k, v in data.items() if k in RECORD_FIELDS}
        if values.get("plot_axes") is not None:
            values["plot_axes"] = tuple(values["plot_axes"])
        values["family"] = tuple(values.get("family") or ())
        return cls(**values)

    def to_json(self, **options: Any) -> str:
        return json.dumps(self.to_dict(), default=str, **options)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        return cls.from_dict(json.loads(text))

    def start_part(self) -> dict[str, Any]:
        """The record as it was at the start: without the end and the fields a person
        changes later (tags, note), which the catalog keeps in columns of their own."""
        data = self.to_dict()
        for name in (*END_FIELDS, "tags", "note"):
            data.pop(name)
        return data


RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(RunRecord))


def journal_metadata(record: RunRecord) -> dict[str, Any]:
    """The meta lines a run's data file starts with: ``{"run_id": ...}`` and ``{"record": ...}``
    (as at the start), to pass in front of the run's other metadata."""
    return {"run_id": record.run_id, "record": record.to_dict()}
