"""A run on several instruments claims them all or none, in one global order: two runs
claiming (A, B) and (B, A) cannot deadlock, and a busy one is named."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from labrun.drivers import DeviceBusy, SourceMeter, open_sourcemeter
from labrun.experiments import Experiment, Point, start

from .support import BENCH


class _Both(Experiment):
    """Takes a reading from each of its instruments per step."""

    name = "both"
    columns: Mapping[str, str] = {"step": "", "first": "A", "second": "A"}

    def __init__(self, first: SourceMeter, second: SourceMeter, points: int = 3) -> None:
        super().__init__(first, instruments=(second,))
        self.first, self.second, self.points = first, second, points

    def total_steps(self) -> int:
        return self.points

    def steps(self) -> Iterator[Point]:
        for step in range(self.points):
            yield {
                "step": step,
                "first": self.first.measure().current,
                "second": self.second.measure().current,
            }


@pytest.fixture
def pair() -> Iterator[tuple[SourceMeter, SourceMeter]]:
    with (
        open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as a,
        open_sourcemeter("keithley2450", BENCH["keithley2450"], sim=True) as b,
    ):
        for smu in (a, b):
            smu.current_limit = 0.01
            smu.set_voltage(1.0)
            smu.output_on()
        yield a, b


def test_two_runs_claiming_in_opposite_orders_always_finish(pair: tuple[SourceMeter, SourceMeter]) -> None:
    a, b = pair
    forward, backward = _Both(a, b), _Both(b, a)
    for _ in range(100):
        runs = [start(forward), start(backward)]
        for run in runs:
            assert run.wait(10), "deadlock"
            assert run.progress.state == "completed"
            assert run.data["first"] == pytest.approx([1e-3] * 3, rel=1e-2)
    assert not a.instrument.device_lock.busy and not b.instrument.device_lock.busy


def test_all_or_nothing_a_busy_instrument_is_named_and_nothing_is_kept(
    pair: tuple[SourceMeter, SourceMeter],
) -> None:
    a, b = pair
    b.instrument.device_lock.acquire("another run", blocking=False)
    try:
        with pytest.raises(DeviceBusy, match="another run"):
            start(_Both(a, b), blocking=False)
        assert not a.instrument.device_lock.busy  # the first lock was given back
        waiting = start(_Both(a, b), timeout=0.2)
        with pytest.raises(DeviceBusy):
            waiting.result(5)
        assert not a.instrument.device_lock.busy
    finally:
        b.instrument.device_lock.release()
    assert start(_Both(a, b)).result(5)["second"] == pytest.approx([1e-3] * 3, rel=1e-2)
