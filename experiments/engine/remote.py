"""A run asked from another process: ``labrun runs pause|resume|stop ID`` in a second terminal.

Why files in the lock directory: it is the user's own directory on this host that the
device locks already use, so there is nothing to configure and no port to open, and a
request is one line of text a person can read. A running run looks for requests addressed
to it every ``POLL`` seconds from a thread of its own, applies one, and deletes it: the
asking process reads the answer it leaves beside it (done, or why not); an answer
that came after the asker gave up is removed by the next request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import threading
import time
import uuid
from collections.abc import Callable

from labrun.drivers import lock_directory

logger = logging.getLogger(__name__)

#: seconds between looks for a request
POLL = 0.2
REQUESTS = ("pause", "resume", "stop")


def request_path(run_id: str) -> pathlib.Path:
    folder = lock_directory() / "runs"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{run_id}.request"


def ask(run_id: str, what: str, by: str, timeout: float = 5.0) -> str | None:
    """Ask the run ``run_id`` (of this host and user) to ``what``: its answer ("" done, or
    why not), or None if no run took the request within ``timeout`` s (it is withdrawn)."""
    if what not in REQUESTS:
        raise ValueError(f"a run can be asked to {', '.join(REQUESTS)}, not {what!r}")
    path = request_path(run_id)
    answer = path.with_suffix(".answer")
    with contextlib.suppress(FileNotFoundError):
        answer.unlink()
    _write(path, {"request": what, "by": by})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer.exists():
            with contextlib.suppress(FileNotFoundError, ValueError):
                said = json.loads(answer.read_text(encoding="utf-8"))
                answer.unlink()
                return str(said.get("refused", ""))
        time.sleep(POLL / 4)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return None


def _write(path: pathlib.Path, content: dict[str, str]) -> None:
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")  # never another writer's draft
    draft.write_text(json.dumps(content), encoding="utf-8")
    os.replace(draft, path)  # whole or not at all


class Listener:
    """Applies the requests addressed to one run while it runs (a daemon thread)."""

    def __init__(self, run_id: str, apply: Callable[[str, str], None]) -> None:
        self.path = request_path(run_id)
        self.apply = apply
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"labrun-remote-{run_id[:8]}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a request that came too late is not left for nobody

    def _loop(self) -> None:
        while not self._done.wait(POLL):
            try:
                request = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as error:
                logger.warning("%s: an unreadable request was ignored: %s", self.path.name, error)
                request = {}
            with contextlib.suppress(OSError):
                self.path.unlink()
            if not isinstance(request, dict):
                request = {}
            what, by = request.get("request"), str(request.get("by") or "another process")
            refused = "" if what in REQUESTS else f"unknown request {what!r}"
            if not refused:
                try:
                    self.apply(str(what), by)
                except Exception as error:  # a pause a hardware sweep refuses: said to both sides
                    refused = str(error)
                    logger.warning("%s: %s refused: %s", self.path.stem[:8], what, error)
            with contextlib.suppress(OSError):  # the asker then says it had no answer
                _write(self.path.with_suffix(".answer"), {"refused": refused})
