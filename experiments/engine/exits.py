"""Every way the program ends stops the runs first — the one module that handles signals.

Why: runs execute in daemon threads, and nothing runs at interpreter exit by itself, so a
script that started a sweep and ended, raised, called ``sys.exit()`` or was interrupted
left the output on. Here, and only here, signal handlers are installed:

- :func:`install_signal_handlers`: SIGTERM, SIGHUP and SIGQUIT, where nobody else handles
  them, end the program through the normal exit, where the runner's exit hook stops every
  run (output ramped down and off, data file closed) and the drivers' hook closes what is
  left open;
- :class:`Interrupts`: what ``labrun run`` does with Ctrl-C and those signals while a run
  goes on (the first stops the run, a second exits at once, saying the output state is
  unknown);
- :func:`on_signals`: a long-lived command (``labrun sim serve``, ``labrun panel``) ends
  gracefully on them.

kill -9 and a power cut cannot be caught.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from labrun.drivers.at_exit import before_exit

logger = logging.getLogger(__name__)

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name))
#: what stops a long-lived command or a run of ``labrun run``
STOP_SIGNALS = (signal.SIGINT, *SIGNALS)

#: set once the program has begun to end: no new run may start
ending = threading.Event()
_installed = False

__all__ = ["SIGNALS", "STOP_SIGNALS", "Interrupts", "before_exit", "ending", "install_signal_handlers"]


def install_signal_handlers() -> None:
    """SIGTERM, SIGHUP, SIGQUIT end the program through the normal exit (and so through the
    exit hooks that stop the runs) where their handler is still the default. Main thread only."""
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


@contextlib.contextmanager
def on_signals(handler: Callable[[int], None], signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Within the block, each of ``signals`` calls ``handler(signum)`` (main thread only;
    elsewhere nothing is installed); the previous handlers come back after it."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda signum, frame: handler(signum)) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Interrupts:
    """Within the block, Ctrl-C, SIGTERM, SIGHUP and SIGQUIT ask the run to stop.

    The run's own thread then ramps down and turns the output off, and the data file and
    plot are written. A second signal exits at once, saying the output state is unknown.
    """

    def __init__(self) -> None:
        self.signal = ""  # the name of the first signal received
        self.signum = 0
        self.on_signal: Callable[[str], None] | None = None
        self._block = on_signals(self._handle)

    def _handle(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.signal:
            print(
                f"\nlabrun: {name} again: exiting now; the output state of the instrument is UNKNOWN",
                file=sys.stderr,
                flush=True,
            )
            os._exit(128 + signum)
        self.signal, self.signum = name, signum
        print(f"\nlabrun: {name}: stopping (output ramped down and off, data kept)", file=sys.stderr)
        if self.on_signal is not None:
            self.on_signal(name)

    def __enter__(self) -> Interrupts:
        self._block.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._block.__exit__(None, None, None)
