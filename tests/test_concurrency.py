"""Thread safety of one driver shared by many threads, and the device lock."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable

import pytest
import pyvisa

from labrun.drivers import DeviceBusy, SourceMeter, open_sourcemeter

from .support import BENCH

# each thread asks a query whose answer is fixed and different from every other's,
# and interleaves setting writes (each confirmed through the error queue)
QUERIES = [
    ("*IDN?", "MODEL 2400"),
    (":FORM:ELEM?", "VOLT,CURR"),
    (":SOUR:FUNC?", "VOLT"),
    (":SYST:RSEN?", "0"),
    (":SENS:FUNC:CONC?", "1"),
    (":SOUR:VOLT:MODE?", "FIX"),
    (":FORM:DATA?", "ASC"),
    (":SYST:BEEP?", "1"),
]


def hammer(
    threads: int,
    per_thread: int,
    transact: Callable[[str], str],
    write: Callable[[int], None],
    enough: int | None = None,
) -> int:
    """Run mixed transactions from ``threads`` threads; return how many answers were wrong.

    ``enough``: stop early once that many wrong answers are seen.
    """
    wrong = [0] * threads
    start = threading.Barrier(threads)

    def worker(k: int) -> None:
        query, expected = QUERIES[k % len(QUERIES)]
        start.wait()
        for i in range(per_thread):
            if enough is not None and sum(wrong) >= enough:
                return
            if i % 2:
                write(k)
                continue
            try:
                if expected not in transact(query):
                    wrong[k] += 1
            except Exception:  # a timeout: the answer went to another thread
                wrong[k] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
        assert not t.is_alive(), "deadlock"
    return sum(wrong)


@pytest.mark.timeout(120)
def test_eight_threads_share_one_driver_without_mixed_replies() -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        delays = [f":TRIG:DEL {k * 1e-3:.3f}" for k in range(8)]
        wrong = hammer(8, 2000, smu.instrument.query, lambda k: smu.instrument.write(delays[k]))
        assert wrong == 0
        assert smu.instrument.errors() == []


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore:read string doesn't end with termination characters")  # the corruption
def test_without_the_io_lock_replies_get_mixed() -> None:
    """The same load with the lock bypassed corrupts: proof the test above can fail.

    Real I/O releases the GIL for milliseconds per transaction; the simulator answers
    in microseconds, so threads are made to switch as often as real I/O would.
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        wrong = _hammer_without_lock()
    finally:
        sys.setswitchinterval(interval)
    assert wrong > 0


def _hammer_without_lock() -> int:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, timeout=0.05) as smu:
        resource: pyvisa.resources.MessageBasedResource = smu.instrument.resource

        def raw_query(query: str) -> str:
            resource.write(query)
            return str(resource.read())

        def raw_write(k: int) -> None:
            with contextlib.suppress(pyvisa.errors.VisaIOError):
                raw_query(f":TRIG:DEL {k * 1e-3:.3f};:SYST:ERR?")

        return hammer(8, 500, raw_query, raw_write, enough=20)


def test_device_lock_second_holder_gets_busy_without_blocking(smu: SourceMeter) -> None:
    lock = smu.instrument.device_lock
    lock.acquire("sweep A")
    try:
        assert smu.instrument.busy
        with pytest.raises(DeviceBusy, match="in use by sweep A"):
            lock.acquire("sweep B", blocking=False)
        with pytest.raises(DeviceBusy):
            lock.acquire("sweep B", timeout=0.01)
    finally:
        lock.release()
    assert not smu.instrument.busy


def test_device_lock_second_holder_waits_its_turn(smu: SourceMeter) -> None:
    lock = smu.instrument.device_lock
    order: list[str] = []
    first_holds = threading.Event()
    release_first = threading.Event()

    def first() -> None:
        with lock.hold("A"):
            order.append("A in")
            first_holds.set()
            release_first.wait(5)
            order.append("A out")

    def second() -> None:
        first_holds.wait(5)
        with lock.hold("B"):
            order.append("B in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_holds.wait(5)
    assert lock.busy and lock.owner == "A"
    release_first.set()
    for t in threads:
        t.join(5)
    assert order == ["A in", "A out", "B in"]
    assert not lock.busy and lock.owner is None
