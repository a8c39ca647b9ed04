"""A run's claim on its instruments: every device lock, all or nothing, in one global order.

Why one order (by lock name): two runs claiming the same instruments in opposite orders
would each hold one and wait for the other forever. Why slices of 0.05 s: a run waiting
for its turn stays stoppable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from labrun.drivers import DeviceBusy, DeviceLock, SourceMeter

Locks = list[tuple[DeviceLock, SourceMeter]]


def locks_of(instruments: Iterable[SourceMeter]) -> Locks:
    """Each instrument's device lock (each once: channels of one address have their own,
    drivers of one channel share one) with its driver, in the global order."""
    held: dict[int, tuple[DeviceLock, SourceMeter]] = {}
    for instrument in instruments:
        lock = instrument.device_lock  # the instrument's, or its channel's
        held.setdefault(id(lock), (lock, instrument))
    return sorted(held.values(), key=lambda pair: pair[0].name)


def take_all(
    locks: Locks,
    owner: str,
    stop: Callable[[str], None],
    stopped: threading.Event,
    *,
    blocking: bool,
    timeout: float | None,
) -> bool:
    """Take every lock in order, all or nothing; False if ``stopped`` was set while waiting
    (nothing is then held). ``owner`` names the run to whoever finds a lock taken; ``stop``
    is how the run is asked to give its locks back (closing its driver calls it)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    taken: list[DeviceLock] = []
    try:
        for lock, user in locks:
            if not _take_one(lock, user, owner, stop, stopped, blocking, deadline):
                break
            taken.append(lock)
        else:
            return True
    except BaseException:
        release_all(taken)
        raise
    release_all(taken)  # stopped while waiting for the next one
    return False


def release_all(locks: Iterable[DeviceLock]) -> None:
    """Every lock, in the reverse order of taking them."""
    for lock in reversed(list(locks)):
        lock.release()


def _take_one(
    lock: DeviceLock,
    user: SourceMeter,
    owner: str,
    stop: Callable[[str], None],
    stopped: threading.Event,
    blocking: bool,
    deadline: float | None,
) -> bool:
    if not blocking:
        lock.acquire(owner, blocking=False, stop=stop, user=user)
        return True
    while not stopped.is_set():
        slice_ = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
        try:
            lock.acquire(owner, timeout=slice_, stop=stop, user=user)
            return True
        except DeviceBusy:
            if deadline is not None and time.monotonic() >= deadline:
                raise
    return False
