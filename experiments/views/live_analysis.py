"""Analyse a running experiment: every ``every`` points, a trace goes to the pool.

Why a listener: it runs in a thread of its own (see ``delivery.py``) and only copies the
points and submits; the FFT runs in a worker process and the sweep never waits.
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from labrun.analysis.pool import AnalysisPool
from labrun.analysis.spectrum import Spectrum, clock_of, sample_rate_of
from labrun.experiments.engine import Point
from labrun.experiments.model.experiment import Experiment


class LiveSpectra:
    """Subscribe to ``experiment``; each block of ``every`` points of ``column`` becomes a spectrum.

    ``sample_rate`` in Hz: given, or taken from each block's ``time`` (else ``timestamp``)
    column. A block whose clock does not advance gets a future that carries the error —
    never a spectrum on a made-up frequency axis.
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
        if sample_rate is None:
            try:
                self.clock = clock_of(experiment.columns, experiment.name)
            except ValueError as error:
                raise ValueError(f"{error}; give sample_rate") from None
        elif not sample_rate > 0:
            raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
        else:
            self.clock = ""  # the rate is given: no sample times needed
        self.pool, self.every, self.column = pool, every, column
        self.sample_rate, self.window = sample_rate, window
        self.futures: list[Future[Spectrum]] = []
        self._values: list[float] = []
        self._times: list[float] = []
        self.unsubscribe = experiment.subscribe(self._on_point)

    def _on_point(self, point: Point) -> None:
        self._values.append(point[self.column])
        if self.clock:
            self._times.append(point[self.clock])
        if len(self._values) < self.every:
            return
        block, times = np.array(self._values), self._times
        self._values, self._times = [], []
        try:
            rate = self.sample_rate or sample_rate_of(times)
        except ValueError as error:
            failed: Future[Spectrum] = Future()
            failed.set_exception(
                ValueError(f"{self.column} block {len(self.futures) + 1}: {self.clock} column: {error}")
            )
            self.futures.append(failed)
            return
        if not self.sample_rate:  # the FFT assumes even spacing: put late samples where they belong
            stamps = np.asarray(times)
            block = np.interp(stamps[0] + np.arange(len(block)) / rate, stamps, block)
        block -= block.mean()  # a DC level leaks through any window and buries small tones
        self.futures.append(self.pool.spectrum(block, rate, self.window))

    def results(self, timeout: float | None = None) -> list[Spectrum]:
        """Every spectrum submitted so far, waiting for those still computing."""
        return [f.result(timeout) for f in self.futures]
