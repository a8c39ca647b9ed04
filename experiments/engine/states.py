"""A run's lifecycle as one state machine: the only place a run's status changes.

Why: a run's status used to be published from several places (the claim, the body, the
queue, the panel), each with its own idea of what came before. Here every change is a
transition checked against one table; an illegal one raises (a bug in the engine, never
silently a wrong status). bluesky's RunEngine is the model::

    idle ---> claiming ---> running <-> paused
      |          |             |           |
      |          |             +-----------+--> stopping --> completed | stopped | failed
      |          +--> stopped | failed   (stopped while waiting its turn; busy)
      +--> stopped | failed              (dropped from a queue; refused: already running)

``stopping`` is the teardown: outputs ramped down and off, the data file closed. Every run
that ran passes through it, however it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from enum import StrEnum


class RunState(StrEnum):
    """Where a run is in its life (a ``str``: ``state == "running"`` reads as it says)."""

    IDLE = "idle"  # made, not started (queued on a worker)
    CLAIMING = "claiming"  # its running flag is set; taking its instruments (waiting its turn)
    RUNNING = "running"  # measuring
    PAUSED = "paused"  # holding between two points
    STOPPING = "stopping"  # the teardown: outputs down and off, the data file closed
    COMPLETED = "completed"  # every step measured
    STOPPED = "stopped"  # asked to stop (or dropped from a queue) and stopped safely
    FAILED = "failed"  # an error ended it (refused, busy, the instrument, the disk)


ENDED = frozenset({RunState.COMPLETED, RunState.STOPPED, RunState.FAILED})

#: state -> the states it may go to; an end state goes nowhere
TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    RunState.IDLE: frozenset({RunState.CLAIMING, RunState.STOPPED, RunState.FAILED}),
    RunState.CLAIMING: frozenset({RunState.RUNNING, RunState.STOPPED, RunState.FAILED}),
    RunState.RUNNING: frozenset({RunState.PAUSED, RunState.STOPPING}),
    RunState.PAUSED: frozenset({RunState.RUNNING, RunState.STOPPING}),
    RunState.STOPPING: ENDED,
    **{end: frozenset() for end in ENDED},
}

Watcher = Callable[[RunState, RunState], None]


class IllegalTransition(RuntimeError):
    """A run was asked to go where its lifecycle does not lead (an engine bug)."""


class Lifecycle:
    """The state of one run and the one method that changes it.

    Watchers are told of each transition (old, new) in the thread that made it, after the
    change: the run's progress snapshot and its record follow the state this way only.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = RunState.IDLE
        self._lock = threading.Lock()
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> None:
        self._watchers.append(watcher)

    def may(self, new: RunState) -> bool:
        return new in TRANSITIONS[self.state]

    def to(self, new: RunState) -> RunState:
        """Go to ``new`` (or raise :class:`IllegalTransition`); returns the state left."""
        with self._lock:
            old = self.state
            if new not in TRANSITIONS[old]:
                raise IllegalTransition(f"{self.name}: a run cannot go from {old} to {new}")
            self.state = new
        for watcher in self._watchers:
            watcher(old, new)
        return old

    @property
    def ended(self) -> bool:
        return self.state in ENDED
