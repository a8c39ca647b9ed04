"""Analyse a running experiment: every ``every`` points, a trace goes to the pool.

Why a listener: it runs in the measuring thread, so it must only copy the points and
submit (microseconds); the FFT runs in a worker process and the sweep never waits.
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from .analysis import AnalysisPool
from .experiment import Experiment, Point
from .spectrum import Spectrum


class LiveSpectra:
    """Subscribe to ``experiment``; each block of ``every`` points of ``column`` becomes a spectrum.

    ``sample_rate`` in Hz: given, or estimated from the block's ``time`` column.
    """

    def __init__(
        self,
        experiment: Experiment,
        pool: AnalysisPool,
        *,
        every: int,
        column: str = "current",
        sample_rate: float | None = None,
        window: str = "hann",
    ) -> None:
        if every < 2:
            raise ValueError(f"every must be >= 2 points, got {every}")
        if column not in experiment.columns:
            raise ValueError(f"no column {column!r}; columns: {', '.join(experiment.columns)}")
        self.pool, self.every, self.column = pool, every, column
        self.sample_rate, self.window = sample_rate, window
        self.futures: list[Future[Spectrum]] = []
        self._values: list[float] = []
        self._times: list[float] = []
        self.unsubscribe = experiment.subscribe(self._on_point)

    def _on_point(self, point: Point) -> None:
        self._values.append(point[self.column])
        self._times.append(point.get("time", point.get("timestamp", 0.0)))
        if len(self._values) < self.every:
            return
        rate = self.sample_rate
        if rate is None:
            spacing = float(np.median(np.diff(self._times)))
            rate = 1.0 / spacing if spacing > 0 else 1.0
        block = np.array(self._values)
        block -= block.mean()  # a DC level leaks through any window and buries small tones
        self.futures.append(self.pool.spectrum(block, rate, self.window))
        self._values, self._times = [], []

    def results(self, timeout: float | None = None) -> list[Spectrum]:
        """Every spectrum submitted so far, waiting for those still computing."""
        return [f.result(timeout) for f in self.futures]
