"""Instruments still open when the program ends are shut down (ramped down, output off).

Why: a script that opened an instrument without ``with`` and ends, raises, or is
interrupted would otherwise leave the output on at its last level. Runs are stopped
first (``labrun.experiments`` registers its own, later and so earlier-run, handler);
this one then closes what is left, except drivers opened with ``keep_output=True``,
which keep their output as it is, and say so. kill -9 and a power cut cannot be caught.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

logger = logging.getLogger(__name__)


class LeftOpen(Protocol):
    """What the registry needs of a driver: its name, whether its output is to stay as it
    is, its output as last set, and its way out (stop, ramp down, off, close)."""

    @property
    def name(self) -> str: ...
    @property
    def keep_output(self) -> bool: ...
    @property
    def output_enabled(self) -> bool: ...
    @property
    def level(self) -> float: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


#: drivers opened and not yet closed
open_drivers: weakref.WeakSet[LeftOpen] = weakref.WeakSet()


def shut_down_open_instruments() -> None:
    """Stop what runs on each open driver, ramp its output down and off, close it."""
    for driver in list(open_drivers):
        if driver.keep_output:
            if driver.output_enabled:
                logger.warning(
                    "%s: left with its output ON at %g (keep_output=True)", driver.name, driver.level
                )
            continue
        was_on = driver.output_enabled
        try:
            driver.__exit__(None, None, None)
        except BaseException as error:  # a second Ctrl-C, an instrument gone: say so, go on
            logger.error("%s: shutdown at exit failed (%s): its output may still be on", driver.name, error)
            continue
        if was_on:
            logger.warning("%s: output ramped down and turned off at exit", driver.name)


def before_exit(handler: Callable[[], None]) -> None:
    """Call ``handler`` when the main thread has finished, before ``atexit`` handlers.

    Why not ``atexit``: pyvisa registers an ``atexit`` handler per ResourceManager, when
    it is made (so after ours), and it runs first, closing every session: a shutdown
    then finds the instrument unreachable. ``threading._register_atexit`` (what
    ``concurrent.futures`` uses) runs earlier, while everything is still open; last
    registered, first called.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover - CPython has had it since 3.9
        atexit.register(handler)
    else:
        register(handler)


before_exit(shut_down_open_instruments)
