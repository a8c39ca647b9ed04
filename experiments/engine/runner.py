"""The Runner: the one place a run's protocol is written, for every caller.

claim the running flag -> take the instruments (all or nothing) -> open the data file ->
setup -> steps -> teardown -> close -> give the instruments back -> end. A script's
``start()``, ``experiment.run()``, a :class:`~.queue.Worker`, ``labrun run`` and the panel
(through ``config.launch``) all go through :meth:`Runner.start` / :meth:`Runner.execute`;
the run's lifecycle (``states.py``) checks every step of it.

The runner also knows every live run of the process (to stop them when it ends) and each
experiment's last run (its running flag: one run of an experiment at a time).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Protocol

from labrun.drivers import DeviceLock

from ..storage.record import now_iso
from . import exits
from .claims import release_all
from .procedure import AlreadyRunning, Procedure
from .recording import RecordOptions
from .run import Run
from .states import RunState

logger = logging.getLogger(__name__)


class Queue(Protocol):
    """What the runner asks of a queue of runs when the program ends."""

    def clear(self) -> list[Procedure]: ...


class Runner:
    """Starts, runs and ends runs; holds each experiment's running flag."""

    def __init__(self) -> None:
        self._flags = threading.Lock()  # makes "is it running? then it is mine" one step
        #: runs started and not yet ended (stopped first when the program ends)
        self.live: weakref.WeakSet[Run] = weakref.WeakSet()
        self.queues: weakref.WeakSet[Queue] = weakref.WeakSet()

    # ------------------------------------------------------------- starting

    def start(
        self,
        experiment: Procedure,
        *,
        blocking: bool = True,
        timeout: float | None = None,
        claimed: Sequence[DeviceLock] = (),
        record: RecordOptions | None = None,
    ) -> Run:
        """Start ``experiment`` in a background thread and return its :class:`Run` at once.

        Raises ``AlreadyRunning`` if it runs already. If another experiment holds an
        instrument, the run waits its turn (``blocking=True``, at most ``timeout`` s) or
        ``DeviceBusy`` is raised here at once (``blocking=False``). ``claimed``: device
        locks the caller holds already, handed to the run (never released in between).
        ``record``: what goes into the run's record, and which catalog keeps it. Locks
        handed over are the run's from the call on: given back with it, or at once if it
        cannot start.
        """
        try:
            if exits.ending.is_set():
                raise RuntimeError(f"not starting {experiment.name}: the program is ending")
            exits.install_signal_handlers()
            run = Run(experiment, record)
        except BaseException:
            release_all(claimed)
            raise
        run.context.adopt(claimed, run.stop)  # held by the run: released however it ends
        self.claim(run)
        try:
            if not blocking:
                run.context.claim(run.stop, run.stop_event, blocking=False, timeout=None)
            thread = threading.Thread(
                target=self.execute,
                args=(run,),
                kwargs={"blocking": blocking, "timeout": timeout},
                name=f"labrun-{experiment.name}",
                daemon=True,
            )
            self.live.add(run)
            thread.start()
        except BaseException as error:
            self._finish(run, RunState.FAILED, error)
            raise
        return run

    def run_here(
        self,
        experiment: Procedure,
        *,
        blocking: bool = True,
        timeout: float | None = None,
        record: RecordOptions | None = None,
    ) -> dict[str, Any]:
        """Run ``experiment`` to its end in the calling thread; its data, or its exception."""
        run = Run(experiment, record)
        self.claim(run)
        self.live.add(run)
        self.execute(run, blocking=blocking, timeout=timeout)
        return run.result()

    def claim(self, run: Run) -> None:
        """Set the experiment's running flag for ``run`` (idle -> claiming), or end it as
        failed and raise :class:`AlreadyRunning`. The flag is the experiment's last run,
        which the experiment keeps (``claimed``): the runner asks, never writes into it."""
        experiment = run.experiment
        with self._flags:
            current = experiment.last_run
            busy = current is not None and current is not run and current.running
            if not busy:
                experiment.claimed(run)
        try:
            if busy:
                raise AlreadyRunning(f"{experiment.name} is already running")
            run.total = experiment.total_steps()
            run.context.owner = run.owner()  # named as of now, for whoever finds it busy
        except BaseException as refused:
            self._finish(run, RunState.FAILED, refused)
            raise
        run.enter(RunState.CLAIMING)

    # ------------------------------------------------------------ executing

    def execute(self, run: Run, *, blocking: bool = True, timeout: float | None = None) -> None:
        """Everything after the claim, in the calling thread; ends the run, however it goes
        (its locks given back, its future settled), and never raises."""
        run.own_threads.add(threading.get_ident())
        final, failed = RunState.FAILED, None
        try:
            if run.context.claim(run.stop, run.stop_event, blocking=blocking, timeout=timeout):
                final, failed = self._measure(run)
            else:  # stopped while waiting its turn
                final = RunState.STOPPED
        except BaseException as error:  # busy past its timeout; a Ctrl-C while waiting; a bug
            failed = failed or error
            final = RunState.FAILED
        finally:
            self._finish(run, final, failed)

    def _measure(self, run: Run) -> tuple[RunState, BaseException | None]:
        """Running: the record (each instrument read back), the data file with it (before
        anything is switched on), setup, the steps. Stopping: the rows still pending
        written, the teardown, the end line, the file closed, the record ended.

        Returns the end state and what failed it, with a note saying how far it got. A
        failed teardown fails the run (the output may still be on) and says so.
        """
        experiment, context = run.experiment, run.context
        run.enter(RunState.RUNNING)
        failed: BaseException | None = None
        try:
            _listen(run)
            context.recording.begin(experiment, context.open_sink)
            if context.data_file is not None:
                run.recorded.recorders.append(context.data_file.write)
            if context.recording.stream is not None:
                context.subscribers.add(context.recording.stream.point)
            context.subscribers.open()
            if not run.stop_requested:  # a stop while it was read back: nothing is switched on
                experiment.setup()
                # looked up once, not per point
                add, stop_asked, pause_asked = run.add, run.stop_event.is_set, run.pausing.asked.is_set
                for point in experiment.steps():
                    add(point)
                    if stop_asked() or (pause_asked() and not self._hold(run)):
                        break
        except BaseException as error:
            failed = error
        run.enter(RunState.STOPPING)
        failed = context.write_pending(failed)  # before the teardown, which may take long
        if failed is not None:
            p = run.progress
            at = f"at step {p.step + 1} of {p.total}" if p.step < p.total else f"after its {p.total} steps"
            failed.add_note(f"{experiment.name}: failed {at}{run.kept()}")
        try:
            experiment.teardown()
        except BaseException as teardown_error:
            why = "; ".join([str(teardown_error), *getattr(teardown_error, "__notes__", ())])
            unsafe = (
                f"{experiment.name}: shutting the instrument down failed ({why}): its output may still be on"
            )
            logger.error("%s", unsafe)
            if failed is None:
                failed = teardown_error
            failed.add_note(unsafe)  # the first error stays the one raised; the teardown's rides along
        final = RunState.FAILED if failed else RunState.STOPPED if run.stop_requested else RunState.COMPLETED
        points = context.points(len(run.table))
        end = context.recording.end(final, failed, run.stop_reason, points, run.pausing.pauses)
        try:
            context.write_end(end)
            context.close_sink()
        except BaseException as error:  # the file could not be closed
            failed = failed or error
            final = RunState.FAILED
        finally:
            try:
                context.close_subscribers()
            finally:
                context.recording.close(end)
        return final, failed

    def _hold(self, run: Run) -> bool:
        """Paused here, between two points, until resumed (True) or stopped (False). The
        pause and the resume are lines of the journal where they happened, and the record's;
        the state says paused once a safe pause has the outputs off. After the last point
        there is nothing to pause before: the run ends."""
        pausing, context = run.pausing, run.context
        if len(run.table) >= run.total:
            pausing.release("the run's end")
            return True
        mode = pausing.mode  # read once: a resume undoes what this pause did
        entry: dict[str, Any] = {"paused": now_iso(), "resumed": None, "by": pausing.by}
        entry.update(mode=mode, after=len(run.table))  # points measured before it
        pausing.pauses.append(entry)
        context.note("pause", entry)
        if mode == "safe":
            run.experiment.to_safe_level()
        run.enter(RunState.PAUSED)
        resumed = pausing.hold(run.stop_event)
        if not resumed:
            return False
        if mode == "safe":
            run.experiment.from_safe_level()
        entry.update(resumed=now_iso(), resumed_by=pausing.resumed_by)
        context.note("resume", entry)
        run.enter(RunState.RUNNING)
        return True

    def _finish(self, run: Run, final: RunState, error: BaseException | None) -> None:
        """Give the instruments back, enter the end state, settle the run's future; from
        any state a run can be in (a run cut short while running passes through stopping)."""
        try:
            run.context.release()
        finally:
            if run.state in (RunState.RUNNING, RunState.PAUSED):
                run.enter(RunState.STOPPING)
            if not run.lifecycle.ended:
                run.enter(final if run.lifecycle.may(final) else RunState.FAILED)
            self.live.discard(run)
            if final == RunState.STOPPED and run.stop_reason:
                logger.warning("%s", run.report())
            run.end(error)

    # --------------------------------------------------------------- ending

    def stop_all(self, reason: str = "the program is ending") -> None:
        """Stop every queued and live run of this process and wait for each to shut down."""
        exits.ending.set()
        for queue in list(self.queues):
            queue.clear()
        for run in [r for r in list(self.live) if r.running]:
            logger.warning("labrun: %s: stopping %s", reason, run.report())
            try:
                run.stop_and_wait(reason)
            except KeyboardInterrupt:
                return


def _listen(run: Run) -> None:
    """Pause, resume and stop requests from other processes (``labrun runs pause ID``);
    a lock directory that cannot take them costs that, not the run."""
    try:
        run.context.listen(lambda what, by: _asked(run, what, by))
    except OSError as error:
        logger.warning("%s: requests from other processes are not taken: %s", run.short_id, error)


def _asked(run: Run, what: str, by: str) -> None:
    """A request from another process: pause, resume or stop."""
    if what == "pause":
        run.pause(by=by)
    elif what == "resume":
        run.resume(by=by)
    else:
        run.stop(by)


#: the process's runner: every run of ``start()``, ``experiment.run()``, queues, CLI, panel
RUNNER = Runner()
exits.before_exit(RUNNER.stop_all)  # registered after the drivers' handler, so called before it
