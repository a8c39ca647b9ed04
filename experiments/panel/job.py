"""One job of the panel: a config's run as the page sees it, from queued to its end."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from labrun.experiments.config import Config, StationConfig
from labrun.experiments.config.launch import save_plot
from labrun.experiments.engine import Run
from labrun.experiments.model.experiment import Experiment

#: a job's state: the run's, once it has one (``completed``, ``stopped``, ``failed``)
JobState = Literal["queued", "starting", "running", "completed", "stopped", "failed", "removed"]
#: what a job's summary says of its sequence: the page shows "step 3 of 6"
SEQUENCE_SHOWN = ("id", "index", "of", "keys")


@dataclass
class Job:
    """One queued, running or finished run of a config."""

    id: int
    config: str
    values: dict[str, str]
    parsed: Config | StationConfig
    state: JobState = "queued"
    run: Run | None = None
    experiment: Experiment | None = None
    error: str = ""
    data_file: str = ""  # relative to the data directory
    plot_file: str = ""
    queued: float = field(default_factory=time.time)
    finished: float | None = None
    #: the run's place in its sequence (``RecordOptions.sequence``), None for a lone run
    sequence: dict[str, Any] | None = None
    on_error: str = "stop"

    def summary(self) -> dict[str, Any]:
        progress = self.run.progress if self.run is not None else None
        experiment = self.experiment
        return {
            "id": self.id,
            "run_id": self.run.run_id if self.run is not None else "",
            "config": self.config,
            "values": self.values,
            "state": "paused" if progress is not None and progress.state == "paused" else self.state,
            "step": progress.step if progress else 0,
            "total": progress.total if progress else 0,
            "remaining": progress.remaining if progress else None,
            "error": self.error,
            "data_file": self.data_file,
            "plot_file": self.plot_file,
            "columns": list(experiment.columns) if experiment else [],
            "plot_axes": list(experiment.plot_axes) if experiment else [],
            "family": list(experiment.family) if experiment else [],
            "log_current": bool(experiment.log_current) if experiment else False,
            "sequence": {k: self.sequence[k] for k in SEQUENCE_SHOWN} if self.sequence else None,
        }

    def finish(self) -> None:
        """Data file, plot and error in words first; the end state last (the page takes a
        finished state to mean all of it is there)."""
        run, experiment = self.run, self.experiment
        assert run is not None and experiment is not None
        if run.error is not None:
            self.error = in_words(run.error)
        if experiment.data_file is not None:
            self.data_file = experiment.data_file.path.name
            try:
                plot = save_plot(experiment) if self.parsed.save.plot else None
            except OSError as error:
                self.error = self.error or f"plot not written: {error}"
            else:
                self.plot_file = plot.name if plot is not None else ""
        ends: dict[str, JobState] = {"completed": "completed", "stopped": "stopped"}
        self.state = ends.get(run.progress.state, "failed")


def in_words(error: BaseException) -> str:
    """The error as the page shows it: its message and its notes."""
    return "; ".join([str(error) or type(error).__name__, *getattr(error, "__notes__", ())])
