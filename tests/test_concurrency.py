"""Thread safety of one driver shared by many threads, and the device lock."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import pyvisa

from labrun.drivers import DeviceBusy, SourceMeter, open_sourcemeter

from .support import BENCH, run_threads

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
    (":SYST:BEEP:STAT?", "1"),
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

    run_threads(*(functools.partial(worker, k) for k in range(threads)), timeout=120)
    return sum(wrong)


@pytest.mark.timeout(120)
def test_eight_threads_share_one_driver_without_mixed_replies() -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        delays = [f":TRIG:DEL {k * 1e-3:.3f}" for k in range(8)]
        wrong = hammer(8, 2000, smu.instrument.query, lambda k: smu.instrument.write(delays[k]))
        assert wrong == 0
        assert smu.instrument.errors() == []


def test_without_the_io_lock_a_write_between_write_and_read_mixes_replies() -> None:
    """Proof the lock matters: thread A writes its query, thread B writes and reads its
    own before A reads — with bare pyvisa calls, A's reply is lost (the twin, like an
    instrument, drops an unread answer when a new command comes) or goes to B.

    The order is forced with events: a hammer of unlocked threads mixed replies in most
    runs, but not in all (a test of luck).
    """
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, timeout=0.05) as smu:
        resource: pyvisa.resources.MessageBasedResource = smu.instrument.resource
        a_wrote, b_done = threading.Event(), threading.Event()
        answers: dict[str, str] = {}

        def read(who: str) -> None:
            try:
                answers[who] = str(resource.read())
            except pyvisa.errors.VisaIOError:
                answers[who] = "(no answer)"

        def a() -> None:
            resource.write("*IDN?")
            a_wrote.set()
            b_done.wait(5)
            read("a")

        def b() -> None:
            a_wrote.wait(5)
            resource.write(":FORM:ELEM?")
            read("b")
            b_done.set()

        run_threads(a, b)
    assert "MODEL 2400" not in answers["a"] or "VOLT,CURR" not in answers["b"], answers


def test_the_io_lock_keeps_another_query_out_of_a_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same two queries through the driver: B asks while A's transaction is between
    its write and its read, and waits for it; both get their own answers."""
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        resource = smu.instrument.resource
        a_between, b_asking = threading.Event(), threading.Event()
        read_raw = resource.read_raw

        def read_raw_pausing_for_a(*args: Any, **kwargs: Any) -> bytes:
            if threading.current_thread().name == "a" and not a_between.is_set():
                a_between.set()
                b_asking.wait(5)
                time.sleep(0.05)  # B's chance to cut in, were there no lock
            return read_raw(*args, **kwargs)

        monkeypatch.setattr(resource, "read_raw", read_raw_pausing_for_a)
        answers: dict[str, str] = {}

        def a() -> None:
            answers["a"] = smu.instrument.query("*IDN?")

        def b() -> None:
            a_between.wait(5)
            b_asking.set()
            answers["b"] = smu.instrument.query(":FORM:ELEM?")

        run_threads(a, b)
    assert "MODEL 2400" in answers["a"] and answers["b"] == "VOLT,CURR", answers


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
