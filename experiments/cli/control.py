"""Pausing, resuming and stopping a run from the keyboard, or from a second terminal.

Why not Ctrl-Z (SIGTSTP): a stopped process holds its instrument with the output on and
answers nothing, not even a stop. Here ``labrun run``, in the foreground of a terminal,
reads lines from it (``p`` + Enter pauses or resumes, ``s`` + Enter stops; never in the
background, where reading would stop it, nor from a pipe unless told: ``--keys``), and
``labrun runs pause|resume|stop ID`` asks a run of another process on this host, through
the lock directory.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from labrun.experiments.engine import PauseRefused, Run, RunState, remote

EXIT_FAILED = 1
KEYS_HELP = "p + Enter pauses (or resumes), r + Enter resumes, s + Enter stops"


def keys_wanted(forced: bool = False) -> bool:
    """Whether ``labrun run`` reads its terminal: when it has one, in the foreground (a
    background job that read it would be stopped by the terminal, output on), or when
    told to (``--keys``: lines from a pipe)."""
    if forced:
        return True
    try:
        stdin = sys.stdin.fileno()
        return sys.stdin.isatty() and os.tcgetpgrp(stdin) == os.getpgrp()
    except (OSError, ValueError, AttributeError):  # no terminal, or a replaced stdin
        return False


class Keys:
    """Lines from a terminal, while a run goes on: ``p`` pause/resume, ``r`` resume, ``s`` stop."""

    def __init__(
        self, run: Run, source: IO[str] | None = None, say: Callable[[str], None] | None = None
    ) -> None:
        self.run = run
        self.source = source if source is not None else sys.stdin
        self.say = say or (lambda text: print(f"labrun: {text}", file=sys.stderr, flush=True))
        self._thread = threading.Thread(target=self._loop, name="labrun-keys", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            self._read()
        except (OSError, ValueError):  # no terminal to read (closed, or not readable here)
            return

    def _read(self) -> None:
        by = "the keyboard of labrun run"
        for line in self.source:
            if not self.run.running:
                return
            key = line.strip().lower()
            try:
                if key == "p" and self.run.state != RunState.PAUSED and not self.run.pausing.asked.is_set():
                    self.run.pause(by=by)
                    self.say("pausing after the point in progress (p or r + Enter resumes)")
                elif key in ("p", "r"):
                    self.run.resume(by=by)
                    self.say("resuming")
                elif key == "s":
                    self.run.stop(by)
                elif key:
                    self.say(f"{key!r}: {KEYS_HELP}")
            except PauseRefused as refused:
                self.say(str(refused))


def add_verbs(
    verb: Callable[[str, str], argparse.ArgumentParser], handler: Callable[[argparse.Namespace], int]
) -> None:
    """``labrun runs pause|resume|stop ID`` (``verb`` makes a verb's parser, with its id;
    ``handler`` opens the catalog and calls :func:`cmd_control`)."""
    for name, what in (
        ("pause", "pause a run of this host after its point in progress (as its config's pause: says)"),
        ("resume", "resume a paused run of this host"),
        ("stop", "stop a run of this host: ramped down, output off, data kept"),
    ):
        parser = verb(name, what)
        parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the run's answer")
        parser.set_defaults(handler=handler, request=name)


def cmd_control(args: argparse.Namespace, catalog: Any) -> int:
    """Ask the run ``args.id`` (found in ``catalog``) to pause, resume or stop."""
    record = catalog.get(args.id)
    if record.status != "running":
        print(f"labrun: run {record.short_id} is not running (it {record.status})", file=sys.stderr)
        return EXIT_FAILED
    by = f"labrun runs {args.request}, process {os.getpid()} of {_user()}"
    answer = remote.ask(record.run_id, args.request, by, timeout=args.timeout)
    if answer is None:
        print(
            f"labrun: run {record.short_id} did not answer within {args.timeout:g} s: it runs on another "
            f"host ({record.host}) or as another user, or it has just ended",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if answer:
        print(f"labrun: run {record.short_id}: {args.request} refused: {answer}", file=sys.stderr)
        return EXIT_FAILED
    print(f"run {record.short_id}: {args.request} asked and taken")
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
