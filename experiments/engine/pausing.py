"""Pausing a stepped run between two points, and resuming it at the next one.

Why between points: a point is one transaction with the instrument (set, settle, read);
cut in the middle it would be a reading at a level nobody asked for. A pause is asked
from any thread (a script, the panel's button, the CLI's keyboard, another terminal) and
taken by the measuring thread after the point in progress. While paused the source holds
its level (``hold``), or every output is ramped down and off and brought back before the
next point (``safe``: checking a contact). An instrument-side sweep cannot pause: the
instrument steps through its levels on its own.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from labrun.drivers import LabrunError

PauseMode = Literal["hold", "safe"]
PAUSE_MODES: tuple[PauseMode, ...] = ("hold", "safe")


class PauseRefused(LabrunError):
    """This run cannot pause (an instrument-side sweep, or it has ended)."""


class Pausing:
    """A run's pause: asked, held, released; and every pause it had, for its record.

    One condition guards it: a pause asked just after a resume is held, never lost, and
    a stop ends a hold at once. ``asked`` mirrors the request as an ``Event`` for the
    measuring thread's look after each point (a flag read, no lock)."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self._change = threading.Condition()
        self._held = False  # the measuring thread is holding now
        self.mode: PauseMode = "hold"
        self.by = ""
        self.resumed_by = ""
        #: each pause: {"paused", "resumed", "by", "mode", "after"} (ISO times, points before it)
        self.pauses: list[dict[str, Any]] = []

    def ask(self, mode: PauseMode, by: str) -> None:
        """Pause after the point in progress (a pause asked while one is held changes nothing)."""
        if mode not in PAUSE_MODES:
            raise ValueError(f"a pause is one of {', '.join(PAUSE_MODES)}, not {mode!r}")
        with self._change:
            if not self._held:
                self.mode, self.by = mode, by
            self.asked.set()

    def release(self, by: str) -> None:
        """Resume (a pause asked and not yet taken is simply withdrawn)."""
        with self._change:
            self.resumed_by = by
            self.asked.clear()
            self._change.notify_all()

    def wake(self) -> None:
        """A stop: whoever holds the pause looks again at once."""
        with self._change:
            self._change.notify_all()

    def hold(self, stopped: threading.Event) -> bool:
        """Wait, in the measuring thread, until a resume (True) or a stop (False)."""
        with self._change:
            self._held = True
            try:
                self._change.wait_for(lambda: not self.asked.is_set() or stopped.is_set())
            finally:
                self._held = False
            return not stopped.is_set()
