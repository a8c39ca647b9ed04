"""Points handed to subscribers in threads of their own, so none can stall a run.

Why: a subscriber called in the measuring thread holds the instrument hostage — one
that blocks leaves the output on and makes ``stop()`` powerless, one that calls
``run.result()`` deadlocks, a slow one stretches every delay. Here each subscriber
has a thread and a bounded queue: the measurement only appends to it. A subscriber
that falls more than ``capacity`` points behind loses the oldest (it always gets the
newest), with one warning per run.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

from .progress import Point

logger = logging.getLogger(__name__)

Listener = Callable[[Point], None]

#: points a subscriber may fall behind before the oldest are dropped
CAPACITY = 10_000


class Delivery:
    """One subscriber's thread and queue for the length of one run."""

    def __init__(
        self,
        listener: Listener,
        run_name: str,
        on_failure: Callable[[Listener], Any],
        capacity: int = CAPACITY,
    ) -> None:
        self.listener = listener
        self.run_name = run_name
        self.capacity = capacity
        self.dropped = 0
        self._on_failure = on_failure
        self._queue: collections.deque[Point] = collections.deque()
        self._ready = threading.Condition()
        self._busy = False
        self._closed = False
        self.thread = threading.Thread(target=self._loop, name=f"labrun-{run_name}-subscriber", daemon=True)
        self.thread.start()

    def put(self, point: Point) -> None:
        """From the measuring thread: never waits for the subscriber."""
        with self._ready:
            if self._closed:
                return
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1:
                    logger.warning(
                        "%s: subscriber %r is %d points behind the measurement: the oldest are dropped",
                        self.run_name,
                        self.listener,
                        self.capacity,
                    )
            self._queue.append(point)
            self._ready.notify()

    def cancel(self) -> None:
        """Unsubscribed: nothing more is delivered (the point in hand, if any, finishes)."""
        with self._ready:
            self._closed = True
            self._queue.clear()
            self._ready.notify_all()

    def close(self, timeout: float) -> bool:
        """No more points; wait up to ``timeout`` s for the queued ones. False: still busy."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
            drained = self._ready.wait_for(lambda: not self._queue and not self._busy, timeout)
        if not drained:
            logger.warning(
                "%s: subscriber %r is still busy after the run; %d points not yet delivered",
                self.run_name,
                self.listener,
                len(self._queue),
            )
        return drained

    def _loop(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                point = self._queue.popleft()
                self._busy = True
            try:
                self.listener(point)
            except Exception:
                logger.exception("%s: subscriber %r failed and was removed", self.run_name, self.listener)
                self._on_failure(self.listener)
                with self._ready:
                    self._closed = True
                    self._queue.clear()
                    self._busy = False
                    self._ready.notify_all()
                return
            with self._ready:
                self._busy = False
                if not self._queue:
                    self._ready.notify_all()


class Subscribers:
    """The subscribers of one run: the ones it was given, the experiment's standing ones,
    and while the run measures, a :class:`Delivery` (thread and queue) for each."""

    def __init__(self, run_name: str, standing: list[Listener]) -> None:
        self.run_name = run_name
        self.standing = standing  # the experiment's, for every run of it
        self.listeners: list[Listener] = []
        #: the delivery threads: none of them may wait for the run's end
        self.threads: set[int] = set()
        self._deliveries: dict[Listener, Delivery] = {}
        #: the deliveries as a tuple, remade when they change (``put`` runs once per point;
        #: the run skips the call while this is empty, as it is in most runs)
        self.current: tuple[Delivery, ...] = ()
        self._open = False
        self._lock = threading.Lock()

    def add(self, listener: Listener) -> None:
        with self._lock:
            if listener not in self.listeners:
                self.listeners.append(listener)
            if self._open and listener not in self._deliveries:
                self._deliveries[listener] = self._delivery(listener)
                self.current = tuple(self._deliveries.values())

    def remove(self, listener: Listener) -> None:
        """Unsubscribed: nothing more is delivered (the point in hand, if any, finishes)."""
        delivery = self._forget(listener)
        if delivery is not None:
            delivery.cancel()

    def open(self) -> None:
        """The run starts measuring: a delivery for every subscriber so far."""
        with self._lock:
            self._open = True
            for listener in [*self.standing, *self.listeners]:
                if listener not in self._deliveries:
                    self._deliveries[listener] = self._delivery(listener)
            self.current = tuple(self._deliveries.values())

    def put(self, point: Point) -> None:
        for delivery in self.current:
            delivery.put(point)

    def close(self, grace: float) -> None:
        """The run has ended: each subscriber gets its queued points, within ``grace`` s."""
        with self._lock:
            self._open = False
            deliveries, self._deliveries, self.current = self.current, {}, ()
        for delivery in deliveries:
            delivery.close(grace)

    def _delivery(self, listener: Listener) -> Delivery:
        delivery = Delivery(listener, self.run_name, on_failure=self._forget, capacity=CAPACITY)
        self.threads.add(delivery.thread.ident or 0)
        return delivery

    def _forget(self, listener: Listener) -> Delivery | None:
        """Dropped (unsubscribed, or it raised): from this run and from every later one."""
        with self._lock:
            for listeners in (self.listeners, self.standing):
                if listener in listeners:
                    listeners.remove(listener)
            delivery = self._deliveries.pop(listener, None)
            self.current = tuple(self._deliveries.values())
            return delivery
