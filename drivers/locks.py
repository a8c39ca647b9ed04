"""Who owns an instrument: one device lock per address, within and across processes.

Why per address and not per driver object: two drivers on one address (a notebook cell
run twice, two scripts) are one instrument. Within a process, every driver on an
address shares one :class:`DeviceLock` and one I/O lock from :func:`locks_for`. Across
processes, the device lock also holds a lock file per address (``filelock``, an OS lock
that dies with its process) and writes beside it who holds it, so the other process's
:class:`DeviceBusy` names the holder: pid, command line, since when.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pathlib
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import filelock

from .errors import DeviceBusy
from .visa import check_address

logger = logging.getLogger(__name__)

#: where lock files live; tests and unusual setups may point it elsewhere
LOCK_DIR_VARIABLE = "LABRUN_LOCK_DIR"


def lock_directory() -> pathlib.Path:
    """Per user: ``$LABRUN_LOCK_DIR``, else ``$XDG_RUNTIME_DIR/labrun``, else ``/tmp/labrun-UID``."""
    if chosen := os.environ.get(LOCK_DIR_VARIABLE):
        path = pathlib.Path(chosen)
    elif runtime := os.environ.get("XDG_RUNTIME_DIR"):
        path = pathlib.Path(runtime) / "labrun"
    else:
        path = pathlib.Path(tempfile.gettempdir()) / f"labrun-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _file_stem(address: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9.]+", "_", address).strip("_")[:80]
    return f"{readable}-{hashlib.sha1(address.encode()).hexdigest()[:8]}"


def process_alive(pid: int) -> bool:
    """True while a process with this pid exists (a zombie counts: it is not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DeviceLock:
    """Held by one run for its whole life; ``busy`` and ``owner`` can be asked at any time.

    ``interprocess``: also hold the address's lock file (instruments other processes can
    reach; not the in-process simulator, whose twins live and die with this process).
    """

    def __init__(self, address: str, *, interprocess: bool = False) -> None:
        self.name = address
        self.interprocess = interprocess
        self._lock = threading.Lock()
        self.owner: str | None = None
        self._stop: Callable[[str], None] | None = None
        self._user: object | None = None
        self._file: filelock.FileLock | None = None
        if interprocess:
            # not with_suffix: an address's dots (127.0.0.1) would be taken for a suffix, and
            # every instrument on one host would share a lock file
            stem = lock_directory() / _file_stem(address)
            self._file = filelock.FileLock(stem.parent / f"{stem.name}.lock", thread_local=False)
            self._holder_path = stem.parent / f"{stem.name}.holder"

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def acquire(
        self,
        owner: str,
        *,
        blocking: bool = True,
        timeout: float | None = None,
        stop: Callable[[str], None] | None = None,
        user: object | None = None,
    ) -> None:
        """Take the lock for ``owner``; wait (default) or raise :class:`DeviceBusy` at once.

        ``stop(reason)``: how to ask the owner to give the lock back; ``user``: the driver
        object it works through (closing that object stops the owner, see ``stop_holder``).
        """
        deadline = None if timeout is None or not blocking else time.monotonic() + timeout
        if not self._lock.acquire(blocking, -1 if timeout is None or not blocking else timeout):
            raise DeviceBusy(f"{self.name} is in use by {self.owner or 'another experiment'}")
        try:
            if self._file is not None:
                self._acquire_file(blocking, deadline)
        except BaseException:
            self._lock.release()
            raise
        self.owner, self._stop, self._user = owner, stop, user

    def _acquire_file(self, blocking: bool, deadline: float | None) -> None:
        assert self._file is not None
        wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            self._file.acquire(timeout=wait if blocking else 0, poll_interval=0.02)
        except filelock.Timeout:
            raise DeviceBusy(f"{self.name} is in use by {self._describe_holder()}") from None
        previous = self._read_holder()
        if previous is not None:  # its process ended without releasing: the OS freed the lock
            logger.warning("%s: taking over the lock left by %s, which ended", self.name, _describe(previous))
        holder = {"pid": os.getpid(), "command": " ".join(sys.argv), "since": time.strftime("%F %T")}
        self._holder_path.write_text(json.dumps(holder), encoding="utf-8")

    def _read_holder(self) -> dict[str, Any] | None:
        try:
            holder = json.loads(self._holder_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    def _describe_holder(self) -> str:
        holder = self._read_holder()
        if holder is None:
            return "another process"
        state = "" if process_alive(int(holder.get("pid", 0))) else " (ended)"
        return _describe(holder) + state

    def hand_over(self, owner: str, *, stop: Callable[[str], None] | None, user: object | None) -> None:
        """The lock, held already, changes hands (``labrun run`` takes it before it opens the
        instrument, then gives it to the run): never released in between."""
        if not self.busy:
            raise RuntimeError(f"{self.name}: only a lock that is held can be handed over")
        self.owner, self._stop, self._user = owner, stop, user

    def release(self) -> None:
        self.owner, self._stop, self._user = None, None, None
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._holder_path.unlink()
            self._file.release()
        self._lock.release()

    def stop_holder(self, user: object, reason: str, timeout: float | None = None) -> str | None:
        """If the holder works through ``user``, ask it to stop and wait until it let go.

        Returns the holder's name (None if ``user`` held nothing); raises
        :class:`DeviceBusy` if it did not let go within ``timeout``.
        """
        stop, owner = self._stop, self.owner
        if self._user is not user or stop is None:
            return None
        stop(reason)
        if not self._lock.acquire(True, -1 if timeout is None else timeout):
            raise DeviceBusy(f"{self.name}: {owner} did not stop within {timeout} s")
        self._lock.release()
        return owner

    @contextmanager
    def hold(self, owner: str, *, blocking: bool = True, timeout: float | None = None) -> Iterator[None]:
        self.acquire(owner, blocking=blocking, timeout=timeout)
        try:
            yield
        finally:
            self.release()


def _describe(holder: dict[str, Any]) -> str:
    return f"process {holder.get('pid')} ({holder.get('command') or '?'}), since {holder.get('since')}"


_registry: dict[str, tuple[threading.RLock, DeviceLock]] = {}
_registry_lock = threading.Lock()


def device_lock_for(address: str, *, simulated: bool, channel: int = 1) -> DeviceLock:
    """The device lock of ``address`` (its ``channel``) before anything is opened
    (``labrun run`` takes it first)."""
    return channel_lock(check_address(address), channel, interprocess=not simulated)


def locks_for(address: str, *, interprocess: bool) -> tuple[threading.RLock, DeviceLock]:
    """The I/O lock and the device lock of ``address``, the same for every driver on it."""
    with _registry_lock:
        if address not in _registry:
            _registry[address] = (threading.RLock(), DeviceLock(address, interprocess=interprocess))
        return _registry[address]


def channel_lock(address: str, channel: int, *, interprocess: bool) -> DeviceLock:
    """The device lock of one channel of a multi-channel instrument: channel 1's is the
    address's own (what a one-channel driver on the address takes), each other channel has
    its own, named ``ADDRESS channel N``. The I/O lock stays the address's: one bus."""
    if channel == 1:
        return locks_for(address, interprocess=interprocess)[1]
    return locks_for(f"{address} channel {channel}", interprocess=interprocess)[1]
