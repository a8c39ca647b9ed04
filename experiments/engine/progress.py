"""Where a run stands: one immutable object, made whole when asked (its stage replaced at
each transition of the lifecycle, its count swapped at each point)."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .states import ENDED, RunState

#: a measured point: the experiment's column names and their values
Point = dict[str, float]


@dataclass(frozen=True)
class Progress:
    """Immutable, made whole from one stage and one count: reading it needs no lock."""

    state: RunState = RunState.IDLE
    step: int = 0
    total: int = 0
    latest: Point | None = None
    started: float | None = None  # time.monotonic() at the first step
    finished: float | None = None

    def entering(self, state: RunState, total: int) -> Progress:
        """The stage once the run enters ``state``: its start time taken when it first
        runs (a resume keeps it), its end time when it ends."""
        now = time.monotonic()
        if state == RunState.CLAIMING:
            return Progress(state, total=total)
        if state == RunState.RUNNING and self.started is None:
            return Progress(state, total=self.total, started=now)
        if state in ENDED:
            return Progress(state, total=self.total, started=self.started, finished=now)
        return Progress(state, total=self.total, started=self.started)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def remaining(self) -> float | None:
        """Estimated seconds left, from the mean time per step so far."""
        if not self.step or self.state != "running":
            return None
        return self.elapsed / self.step * (self.total - self.step)

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


def row_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``point -> (point[name], ...)`` in the columns' order, in C (``operator.itemgetter``)."""
    if len(names) == 1:  # itemgetter of one name gives the value, not a 1-tuple
        (name,) = names
        return lambda point: (point[name],)
    return operator.itemgetter(*names)
