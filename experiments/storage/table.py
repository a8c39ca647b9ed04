"""The in-memory table of a run: appended by the measuring thread, snapshotted by any thread.

Why it needs no lock: one thread appends, and publishes ``(array, count)`` as a single
reference after the row is written; a reader takes that reference and copies the first
``count`` rows, which are complete and never written again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


class DataTable:
    """Rows of floats appended by one thread, snapshotted by any thread."""

    def __init__(self, columns: Sequence[str], capacity: int = 256) -> None:
        self.columns = tuple(columns)
        self._published: tuple[Array, int] = (np.empty((max(capacity, 1), len(self.columns))), 0)
        self.closed = False

    def append(self, row: Sequence[float]) -> None:
        if self.closed:
            raise ValueError("the table is closed: its run has ended")
        array, count = self._published
        if count == len(array):  # grow by doubling: memory follows the data kept
            bigger = np.empty((2 * len(array), len(self.columns)))
            bigger[:count] = array[:count]
            array = bigger
        array[count] = row
        self._published = (array, count + 1)  # one reference: readers see all or nothing

    def __len__(self) -> int:
        return self._published[1]

    def snapshot(self) -> dict[str, Array]:
        """Every row so far, one numpy array per column: copies while rows are still being
        added; once the table is closed, read-only views (nothing more is written, so they
        are safe to keep, and a long run's data is not held twice)."""
        array, count = self._published
        if self.closed:
            block = array[:count]
            block.flags.writeable = False
        else:
            block = array[:count].copy()
        return {name: block[:, i] for i, name in enumerate(self.columns)}

    def close(self) -> None:
        """No more rows: from now on snapshots are views, not copies."""
        self.closed = True

    def since(self, start: int) -> tuple[Array, int]:
        """Rows ``start`` .. now (a copy) and how many rows there are: what a poller has not seen."""
        array, count = self._published
        return array[start:count].copy(), count

    def last(self) -> dict[str, float] | None:
        array, count = self._published
        if not count:
            return None
        return {name: float(v) for name, v in zip(self.columns, array[count - 1], strict=True)}
