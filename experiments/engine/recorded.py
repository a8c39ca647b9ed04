"""What a run has measured: its table, the recorders that keep each point, the count.

Why a part of its own: this is the run's hot path, one call per point (the row in the
column order, to the table and the data file, then the count, the subscribers and the
experiment's own logic), kept apart from the handle's control and waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..storage import DataTable
from .delivery import Subscribers
from .procedure import Procedure
from .progress import Point, row_getter


class Recorded:
    """The points of one run, kept by the measuring thread and read by any thread."""

    def __init__(self, experiment: Procedure, subscribers: Subscribers) -> None:
        self.experiment = experiment
        self.table = DataTable(tuple(experiment.columns))
        #: what keeps each point, in the measuring thread, before anyone is told of it (one
        #: that fails fails the run): the table, and the data file if saved
        self.recorders: list[Callable[[tuple[Any, ...]], None]] = [self.table.append]
        #: (points so far, the latest): one tuple swapped per point, read whole by pollers
        self.count: tuple[int, Point | None] = (0, None)
        self._subscribers = subscribers
        self._names = tuple(experiment.columns)
        self._row_of = row_getter(self._names)

    def add(self, point: Mapping[str, Any]) -> None:
        """One point: to the recorders (table, data file), then the count and the subscribers."""
        try:
            row = self._row_of(point)
        except KeyError as missing:
            columns = ", ".join(self._names)
            raise ValueError(
                f"{self.experiment.name} gave a point without {missing} (its columns: {columns})"
            ) from None
        if len(point) != len(row):
            extra = sorted(set(point) - set(self._names))
            raise ValueError(f"{self.experiment.name} gave a point with unknown fields {extra}")
        for keep in self.recorders:
            keep(row)
        named = dict(zip(self._names, map(float, row), strict=False))  # as named(row), a call less
        self.count = (self.count[0] + 1, named)
        subscribers = self._subscribers
        if subscribers.current:
            subscribers.put(named)
        self.experiment.after_point(named)

    def named(self, row: Any) -> Point:
        """A row as the point subscribers and pollers get: column name -> float."""
        return dict(zip(self._names, map(float, row), strict=False))  # made with one value per name
