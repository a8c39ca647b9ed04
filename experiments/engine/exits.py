"""Every way the program ends stops the runs first: outputs ramped down and off, data kept.

Why: runs execute in daemon threads, and nothing runs at interpreter exit by itself, so a
script that started a sweep and ended, raised, called ``sys.exit()`` or was interrupted
left the output on. Here: an exit handler stops every live run and waits for it
(its teardown turns the output off, its data file is closed); SIGTERM, SIGHUP and SIGQUIT,
where nobody else handles them, end the program through that same path instead of
killing it; a KeyboardInterrupt while waiting on a run (Ctrl-C, a Jupyter kernel
interrupt) stops that run. A second interrupt leaves at once and says the output state
is unknown. kill -9 and a power cut cannot be caught.
"""

from __future__ import annotations

import logging
import signal
import threading
import weakref
from typing import TYPE_CHECKING

from labrun.drivers.at_exit import before_exit

if TYPE_CHECKING:
    from .queue import Worker
    from .run import Run

logger = logging.getLogger(__name__)

#: seconds the program waits, when it ends, for each run to shut its instrument down
EXIT_WAIT = 60.0
SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))

live_runs: weakref.WeakSet[Run] = weakref.WeakSet()
workers: weakref.WeakSet[Worker] = weakref.WeakSet()
ending = threading.Event()
_installed = False


def wait_stopping(run: Run, reason: str) -> None:
    """Stop ``run`` and wait for it to end; a second interrupt abandons the wait, loudly."""
    run.stop(reason)
    try:
        if not run.wait_unguarded(EXIT_WAIT):
            logger.error(
                "%s: still running after %g s: its output state is unknown", run.experiment.name, EXIT_WAIT
            )
    except KeyboardInterrupt:
        logger.error("%s: interrupted again: not waiting; its output state is unknown", run.experiment.name)
        raise


def stop_all_runs(reason: str = "the program is ending") -> None:
    """Stop every queued and live run of this process and wait for each to shut down."""
    ending.set()
    for worker in list(workers):
        worker.clear()
    for run in [r for r in list(live_runs) if r.running]:
        logger.warning("labrun: %s: stopping %s", reason, run.report())
        try:
            wait_stopping(run, reason)
        except KeyboardInterrupt:
            return


def install_signal_handlers() -> None:
    """SIGTERM, SIGHUP, SIGQUIT end the program through the normal exit (and so through
    :func:`stop_all_runs`) where their handler is still the default. Main thread only."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    for sig in SIGNALS:
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _end_program)


def _end_program(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    if ending.is_set():
        logger.warning("labrun: %s while stopping the runs: still stopping", name)
        return
    logger.warning("labrun: %s: ending the program; runs are stopped and outputs turned off first", name)
    raise SystemExit(128 + signum)


before_exit(stop_all_runs)  # registered after the drivers' handler, so called before it
