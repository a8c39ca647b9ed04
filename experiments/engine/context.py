"""What one run holds while it lives: its instruments' locks, its data file, its subscribers.

Why one object: the claim (every device lock, all or nothing), the exclusive VISA locks,
the data file and the subscribers' threads are taken in one order and must be given back
in the reverse one, however the run ends. Written once here, for every caller (a script's
``start()``, a queue, the CLI, the panel, grid runs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from labrun.drivers import DeviceLock, Instrument

from ..storage import DataFile
from .claims import Locks, locks_of, release_all, take_all
from .delivery import Subscribers
from .procedure import Procedure, metadata_of

#: seconds a run waits, at its end, for its subscribers to take the last points
DELIVERY_GRACE = 2.0


class RunContext:
    """The claimed devices, the locks, the data sink and the subscribers of one run."""

    def __init__(self, experiment: Procedure, owner: str) -> None:
        self.experiment = experiment
        self.owner = owner  # how the run is named to whoever finds an instrument busy
        #: every claimed instrument's lock (each once) with its driver, in the global order
        self.locks: Locks = locks_of(experiment.instruments)
        self.held: list[DeviceLock] = []  # in the order taken
        self.exclusive: list[Instrument] = []
        self.claimed = False  # every device lock held, the exclusive VISA locks taken
        self.data_file: DataFile | None = None
        self.subscribers = Subscribers(experiment.name, standing=experiment.listeners)

    # ------------------------------------------------------------- the claim

    def adopt(self, locks: Sequence[DeviceLock], stop: Callable[[str], None]) -> None:
        """Locks the caller took already (``labrun run`` takes them before it opens
        anything): handed to the run as they are, never released and taken again."""
        users = {id(lock): user for lock, user in self.locks}
        for lock in locks:
            lock.hand_over(self.owner, stop=stop, user=users.get(id(lock)))
            self.held.append(lock)

    def claim(
        self, stop: Callable[[str], None], stopped: threading.Event, *, blocking: bool, timeout: float | None
    ) -> bool:
        """Every device lock not held yet, all or nothing, in the global order; waiting stays
        stoppable. False if stopped first (what this call took is given back)."""
        if self.claimed:  # taken already, at the start (``blocking=False``)
            return True
        held = {id(lock) for lock in self.held}
        wanted = [(lock, user) for lock, user in self.locks if id(lock) not in held]
        if not take_all(wanted, self.owner, stop, stopped, blocking=blocking, timeout=timeout):
            return False
        self.held += [lock for lock, _ in wanted]
        connections = dict.fromkeys(driver.instrument for driver in self.experiment.instruments)
        self.exclusive = [instrument for instrument in connections if instrument.lock_exclusive()]
        self.claimed = True
        return True

    def release(self) -> None:
        """The exclusive VISA locks, then every device lock, in the reverse order of taking."""
        exclusive, self.exclusive = self.exclusive, []
        held, self.held = self.held, []
        self.claimed = False
        try:
            for instrument in reversed(exclusive):
                instrument.unlock_exclusive()
        finally:
            release_all(held)

    # --------------------------------------------------------- the data sink

    def open_sink(self, extra: dict[str, Any] | None = None) -> DataFile | None:
        """The run's data file, made before anything is switched on (a bad directory or a
        full disk fail while the outputs are still off); None when the run is not saved."""
        save = self.experiment.save
        if save is None:
            return None
        metadata = {**metadata_of(self.experiment), **(extra or {})}
        self.data_file = save.open(self.experiment.name, self.experiment.columns, metadata)
        return self.data_file

    def close_sink(self) -> None:
        if self.data_file is not None:
            self.data_file.close()

    def close_subscribers(self) -> None:
        self.subscribers.close(DELIVERY_GRACE)
