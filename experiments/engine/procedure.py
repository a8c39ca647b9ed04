"""What the engine runs: anything shaped like :class:`Procedure` (the experiments are).

The engine never imports the experiments; it knows them through this protocol.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from labrun import __version__
from labrun.drivers import LabrunError, SourceMeter

from ..storage import Saving
from .delivery import Listener
from .pausing import PauseMode
from .progress import Point


class AlreadyRunning(LabrunError):
    """The experiment is running already; it cannot be started twice."""


class Claim(Protocol):
    """What the runner asks of an experiment's last run: whether it still runs."""

    @property
    def running(self) -> bool: ...


class Procedure(Protocol):
    """What the engine runs: measurement logic and where its points go."""

    name: str
    columns: Mapping[str, str]
    plot_axes: tuple[str, str]  # the two columns a view draws by default, x then y
    family: tuple[str, ...]  # columns telling curves apart (one curve per combination)
    log_current: bool  # a view draws the current on a log axis too
    instrument: SourceMeter | None
    #: every instrument the run claims (its device locks, all or nothing), the first included
    instruments: tuple[SourceMeter, ...]
    save: Saving | None
    listeners: list[Listener]  # subscribed to every run of it

    @property
    def last_run(self) -> Claim | None: ...  # its running flag: the run it was last claimed for
    def claimed(self, run: Any) -> None: ...  # the runner claimed it for ``run``

    def total_steps(self) -> int: ...
    def setup(self) -> None: ...
    def steps(self) -> Iterator[Mapping[str, Any]]: ...
    def teardown(self) -> None: ...
    def describe(self) -> dict[str, Any]: ...
    def roles(self) -> dict[str, SourceMeter]: ...  # each instrument by what it is to the run

    pause_mode: PauseMode  # how it pauses unless told: "hold" or "safe"

    def pause_refused(self) -> str: ...  # why it cannot pause ("" if it can)
    def to_safe_level(self) -> None: ...  # a safe pause: outputs ramped down and off
    def from_safe_level(self) -> None: ...  # and back, before the next point
    def after_point(self, point: Point) -> None: ...


def metadata_of(experiment: Procedure, record: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a run's data file says about it besides its record (kept for readers of files
    older than records): experiment, parameters, start, software, units, and each
    instrument with its identity, taken from the record's snapshots (not asked again)."""
    record = record or {}
    snapshots = record.get("instruments") or []
    identities = [s.get("identity", "") for s in snapshots] or [i.identify() for i in experiment.instruments]
    metadata: dict[str, Any] = {
        "experiment": experiment.name,
        "parameters": experiment.describe(),
        "started": record.get("started") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "software": f"labrun {__version__}",
        "units": dict(experiment.columns),
    }
    if experiment.instrument is not None:
        instrument = experiment.instrument
        metadata["instrument"] = {"model": instrument.model, "name": instrument.name}
        metadata["identity"] = identities[0]
    if len(experiment.instruments) > 1:  # every one the run holds, each with its identity
        metadata["instruments"] = [
            {"model": i.model, "name": i.name, "identity": identity}
            for i, identity in zip(experiment.instruments, identities, strict=False)
        ]
    return metadata
