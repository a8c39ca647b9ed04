"""Where a run stands: one immutable object, replaced whole at each point."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .states import RunState

#: a measured point: the experiment's column names and their values
Point = dict[str, float]


@dataclass(frozen=True)
class Progress:
    """Replaced whole at each point, so reading it needs no lock."""

    state: RunState = RunState.IDLE
    step: int = 0
    total: int = 0
    latest: Point | None = None
    started: float | None = None  # time.monotonic() at the first step
    finished: float | None = None

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
