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
    """A run's pause: asked, held, released; and every pause it had, for its record."""

    def __init__(self) -> None:
        #: set while a pause is asked or held: the measuring thread looks at it after each point
        self.asked = threading.Event()
        self._release = threading.Event()  # a resume, or a stop: the hold ends
        self.mode: PauseMode = "hold"
        self.by = ""
        self.resumed_by = ""
        #: each pause: {"paused", "resumed", "by", "mode", "after"} (ISO times, points before it)
        self.pauses: list[dict[str, Any]] = []

    def ask(self, mode: PauseMode, by: str) -> None:
        if mode not in PAUSE_MODES:
            raise ValueError(f"a pause is one of {', '.join(PAUSE_MODES)}, not {mode!r}")
        self.mode, self.by = mode, by
        self._release.clear()
        self.asked.set()

    def release(self, by: str) -> None:
        """Resume (a pause asked and not yet taken is simply withdrawn)."""
        self.resumed_by = by
        self.asked.clear()
        self._release.set()

    def wake(self) -> None:
        """A stop: whoever holds the pause lets go at once."""
        self._release.set()

    def held(self) -> None:
        """Wait, in the measuring thread, until a resume or a stop."""
        self._release.wait()
        self.asked.clear()
