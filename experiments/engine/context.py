"""What one run holds while it lives: its instruments' locks, its data file, its
subscribers, its record.

Why one object: the claim (every device lock, all or nothing), the exclusive VISA locks,
the data file and the subscribers' threads are taken in one order and must be given back
in the reverse one, however the run ends. Written once here, for every caller (a script's
``start()``, a queue, the CLI, the panel, grid runs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from labrun.drivers import DeviceLock, Instrument

from ..storage import DataFile, RunEnd
from . import remote
from .claims import Locks, locks_of, release_all, take_all
from .delivery import Subscribers
from .procedure import Procedure, metadata_of
from .recording import Recording, RecordOptions

logger = logging.getLogger(__name__)

#: seconds a run waits, at its end, for its subscribers to take the last points
DELIVERY_GRACE = 2.0


class RunContext:
    """The claimed devices, the locks, the data sink, the subscribers and the record of one run."""

    def __init__(
        self, experiment: Procedure, owner: str, run_id: str, options: RecordOptions | None = None
    ) -> None:
        self.experiment = experiment
        self.owner = owner  # how the run is named to whoever finds an instrument busy
        #: every claimed instrument's lock (each once) with its driver, in the global order
        self.locks: Locks = locks_of(experiment.instruments)
        self.held: list[DeviceLock] = []  # in the order taken
        self.exclusive: list[Instrument] = []
        self.claimed = False  # every device lock held, the exclusive VISA locks taken
        self.data_file: DataFile | None = None
        self.subscribers = Subscribers(experiment.name, standing=experiment.listeners)
        self.recording = Recording(run_id, options or RecordOptions())
        self.remote: remote.Listener | None = None  # requests from other processes, while it runs

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

    def listen(self, apply: Callable[[str, str], None]) -> None:
        """Take pause, resume and stop requests from other processes (``labrun runs pause``)."""
        self.remote = remote.Listener(self.recording.run_id, apply)

    def release(self) -> None:
        """Requests from other processes no longer taken; the exclusive VISA locks, then
        every device lock, in the reverse order of taking."""
        if self.remote is not None:
            self.remote.close()
        exclusive, self.exclusive = self.exclusive, []
        held, self.held = self.held, []
        self.claimed = False
        try:
            for instrument in reversed(exclusive):
                instrument.unlock_exclusive()
        finally:
            release_all(held)

    # --------------------------------------------------------- the data sink

    def open_sink(self, record: dict[str, Any] | None = None) -> DataFile | None:
        """The run's data file (its journal), made before anything is switched on (a bad
        directory or a full disk fail while the outputs are still off), the run's record
        first in its header; None when the run is not saved."""
        save = self.experiment.save
        if save is None:
            return None
        metadata = {**(record or {}), **metadata_of(self.experiment, (record or {}).get("record"))}
        self.data_file = save.open(self.experiment.name, self.experiment.columns, metadata)
        return self.data_file

    def write_pending(self, failed: BaseException | None) -> BaseException | None:
        """The rows measured but not yet in the data file go there now; a failure to write
        them fails the run (or rides along with the error that ended it)."""
        if self.data_file is None:
            return failed
        try:
            self.data_file.flush()
        except BaseException as error:  # a lost file, a full disk, a Ctrl-C: the teardown comes next
            if failed is None:
                return error
            failed.add_note(f"{self.experiment.name}: writing its last rows failed: {error}")
        return failed

    def points(self, measured: int) -> int:
        """The points the run kept: its data file's rows (or, without one, those measured)."""
        return self.data_file.rows if self.data_file is not None else measured

    def kept(self, measured: int) -> str:
        """What the data file holds, honestly: its rows, not the points measured."""
        if self.data_file is None:
            return ""
        written = self.data_file.rows
        memory = "" if written == measured else f" ({measured} measured: run.data holds them all)"
        return f"; {written} points kept in {self.data_file.path}{memory}"

    def note(self, kind: str, what: dict[str, Any]) -> None:
        """A line of the journal between the points it came between (a pause, a resume)."""
        if self.data_file is not None:
            self.data_file.write_note(kind, what)

    def write_end(self, end: RunEnd) -> None:
        """The journal's last line says how the run ended (a file without it was killed);
        one that cannot be written is said, and the catalog still has the end."""
        if self.data_file is None:
            return
        try:
            self.data_file.write_end(end)
        except OSError as error:
            logger.error("the end line of %s could not be written: %s", self.data_file.path, error)

    def close_sink(self) -> None:
        if self.data_file is not None:
            self.data_file.close()

    def close_subscribers(self) -> None:
        self.subscribers.close(DELIVERY_GRACE)
