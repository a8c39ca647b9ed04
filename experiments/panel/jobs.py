"""What the panel runs: a queue of configs, run one after another in a worker thread.

Why a queue of configs and not of experiments: an experiment needs open instruments,
and instruments are opened for a run and closed after it (the output is off, the
connection free for a script in between). A job is a config name and the page's values;
it is checked like ``labrun check`` when it is queued (a bad value never starts
anything), opened, built and run when its turn comes, and ends with its data file,
plot, the state its instruments were left in, and its error in words. A config with a
``sequence:`` block is queued as one job a step (every step checked first), sharing the
sequence's id; a step that fails (``on_error: stop``) or is stopped takes the sequence's
remaining jobs out of the queue.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import pathlib
import threading
import time
from typing import Any

from labrun.drivers import DeviceBusy, LabrunError, SourceMeter
from labrun.experiments.config import Config, StationConfig
from labrun.experiments.config.launch import instrument_locks, launch
from labrun.experiments.config.loading import as_given
from labrun.experiments.config.sequence import Steps, read_steps
from labrun.experiments.engine import RecordOptions, Run

from .forms import config_path, overrides_of
from .job import Job, in_words
from .station import Station

logger = logging.getLogger(__name__)


class Refused(LabrunError):
    """A start the panel will not queue (already queued or running, instrument busy)."""


class Jobs:
    """The queue, the job running now, and the finished ones; one worker thread."""

    def __init__(self, config_dir: pathlib.Path, data_dir: pathlib.Path, catalog: str | None = None) -> None:
        self.config_dir, self.data_dir = config_dir, data_dir
        self.catalog = catalog  # where the runs' records go (None: the default)
        self.queue: list[Job] = []
        self.current: Job | None = None
        self.finished: list[Job] = []
        #: the instruments the configs name, as the page shows them
        self.instruments = Station()
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="labrun-panel-jobs", daemon=True)
        self._thread.start()

    # -------------------------------------------------------------- the page asks

    def check(self, name: str, values: dict[str, str]) -> Config | StationConfig:
        """The config with the page's values, checked as ``labrun check`` does (ConfigError);
        of a sequence, every step checked and the first one's config returned."""
        return self.steps(name, values).steps[0].config

    def steps(self, name: str, values: dict[str, str]) -> Steps:
        """The runs config ``name`` asks for, with the page's values, every one checked."""
        path = config_path(self.config_dir, name)
        return read_steps(path, out=str(self.data_dir), overrides=overrides_of(values))

    def submit(self, name: str, values: dict[str, str]) -> Job:
        """Queue a run of config ``name`` (one job a step of a sequence; the first is
        returned); refused (``Refused``, ``ConfigError``) with the reason."""
        steps = self.steps(name, values)
        with self._changed:
            if self._closing:
                raise Refused("the panel is shutting down")
            for other in [*(j for j in [self.current] if j is not None), *self.queue]:
                if other.config == name and other.state in ("queued", "starting", "running"):
                    raise Refused(f"{name} is already {other.state} (job {other.id}): it is never run twice")
            checked: set[tuple[str, ...]] = set()  # each set of instruments once, however many steps
            for step in steps.steps:
                if (names := tuple(lock.name for lock in instrument_locks(step.config))) not in checked:
                    checked.add(names)
                    self._check_free(step.config)
            jobs = [Job(next(self._ids), name, dict(values), s.config) for s in steps.steps]
            for job, step in zip(jobs, steps.steps, strict=True):
                job.sequence, job.on_error = steps.record(step), steps.on_error
            self.queue.extend(jobs)
            for job in jobs:
                self.instruments.note(job.parsed)
            self._changed.notify_all()
        return jobs[0]

    def _check_free(self, parsed: Config | StationConfig) -> None:
        """Refuse a config whose instrument someone else holds (another process, a script);
        one held by this panel's own run waits its turn in the queue."""
        mine = set()
        if self.current is not None:  # running, or opening its instruments to start: not to be touched
            mine = {id(lock) for lock in instrument_locks(self.current.parsed)}
        for lock in instrument_locks(parsed):
            if id(lock) in mine:
                continue
            try:
                lock.acquire("the panel's check", blocking=False)
            except DeviceBusy as busy:
                raise Refused(str(busy)) from None
            lock.release()

    def move(self, job_id: int, position: int) -> None:
        with self._changed:
            job = self._queued(job_id)
            self.queue.remove(job)
            self.queue.insert(max(0, min(position, len(self.queue))), job)

    def remove(self, job_id: int) -> None:
        with self._changed:
            job = self._queued(job_id)
            self.queue.remove(job)
            job.state, job.finished = "removed", time.time()
            self.finished.append(job)

    def stop(self, job_id: int, reason: str = "the panel's Stop button") -> None:
        """Stop the running job (its run ramps down and turns its outputs off)."""
        self._running(job_id).stop(reason)

    def pause(self, job_id: int) -> None:
        """Pause the running job after its point in progress (as its config's ``pause:`` says)."""
        self._running(job_id).pause(by="the panel's Pause button")

    def resume(self, job_id: int) -> None:
        self._running(job_id).resume(by="the panel's Resume button")

    def _running(self, job_id: int) -> Run:
        job = self.current
        if job is None or job.id != job_id or job.run is None:
            raise Refused(f"job {job_id} is not running")
        return job.run

    def job(self, job_id: int) -> Job:
        for job in [*(j for j in [self.current] if j is not None), *self.queue, *self.finished]:
            if job.id == job_id:
                return job
        raise KeyError(job_id)

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, drop the queue, stop the running job and wait until its outputs
        are off."""
        with self._changed:
            self._closing = True
            for job in self.queue:
                job.state, job.finished = "removed", time.time()
            self.finished.extend(self.queue)
            self.queue.clear()
            current = self.current
            self._changed.notify_all()
        if current is not None and current.run is not None:
            current.run.stop("the panel is shutting down")
        self._thread.join(timeout)

    # ----------------------------------------------------------------- the worker

    def _queued(self, job_id: int) -> Job:
        for job in self.queue:
            if job.id == job_id:
                return job
        raise Refused(f"job {job_id} is not in the queue")

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self.queue and not self._closing:
                    self._changed.wait()
                if self._closing:
                    return
                job = self.current = self.queue.pop(0)
                job.state = "starting"
            try:
                self._execute(job)
            except BaseException as error:  # never lose the worker: the job says what happened
                logger.exception("panel job %s failed", job.id)
                job.state, job.error = "failed", in_words(error)
            finally:
                job.finished = time.time()
                with self._changed:
                    self.finished.append(job)
                    self.current = None
                    self._end_sequence(job)

    def _end_sequence(self, job: Job) -> None:
        """A sequence's step stopped, or failed with ``on_error: stop``: its remaining jobs
        leave the queue, saying why (called holding the lock)."""
        ended = job.state != "completed" and (job.state, job.on_error) != ("failed", "continue")
        if job.sequence is None or not ended:
            return
        rest = [j for j in self.queue if j.sequence is not None and j.sequence["id"] == job.sequence["id"]]
        for other in rest:
            self.queue.remove(other)
            other.state, other.finished = "removed", time.time()
            other.error = f"not started: step {job.sequence['index'] + 1} of {job.sequence['of']} {job.state}"
            self.finished.append(other)

    def _execute(self, job: Job) -> None:
        drivers: dict[str, SourceMeter] = {}
        try:
            with launch(job.parsed, owner=f"the panel's job {job.id} ({job.config})") as launched:
                drivers = launched.drivers
                job.experiment = launched.experiment
                self.instruments.seen(drivers)
                given = as_given(config_path(self.config_dir, job.config), overrides_of(job.values))
                launched.given = given
                options = RecordOptions(catalog=self.catalog, tags=("panel",), sequence=job.sequence)
                job.run = launched.start(options)
                job.state = "running"
                try:
                    job.run.wait_unguarded(None)
                finally:
                    job.finish()
                    with contextlib.suppress(LabrunError):  # what the outputs were left at, asked
                        self.instruments.seen(drivers)
        except LabrunError as error:
            job.state, job.error = "failed", job.error or in_words(error)
        finally:
            self.instruments.let_go()

    def station(self) -> list[dict[str, Any]]:
        return self.instruments.summary()

    def note_configs(self, configs: list[Config | StationConfig]) -> None:
        """Show the instruments these configs name on the page, before any has run."""
        with self._changed:
            for parsed in configs:
                self.instruments.note(parsed)
