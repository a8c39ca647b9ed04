"""A run is awaitable: `await run` and `async for point in run.points()` in asyncio code."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import CancelledError
from typing import Any

import pytest

from labrun.drivers import InstrumentError, SourceMeter
from labrun.experiments import IVSweep, Worker, start
from labrun.sim_devices import Fault

from .support import twin


async def _watch_and_await(smu: SourceMeter) -> tuple[list[dict[str, float]], dict[str, Any], int]:
    run = start(IVSweep(smu, start=0.0, stop=1.0, num_points=20, delay=0.005, compliance=0.01))
    ticks = 0

    async def other_work() -> None:  # the event loop stays free while the run goes on
        nonlocal ticks
        while run.running:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(other_work())
    points = [point async for point in run.points(interval=0.01)]
    data = await run
    await ticker
    return points, data, ticks


def test_await_a_run_and_iterate_its_points_in_asyncio(smu: SourceMeter) -> None:
    points, data, ticks = asyncio.run(_watch_and_await(smu))
    assert [p["step"] for p in points] == list(range(20))  # every point, in order, once
    assert [p["source"] for p in points] == pytest.approx(list(data["source"]))
    assert points[-1]["source"] == pytest.approx(1.0)
    assert ticks > 0  # other coroutines ran while the sweep did


def test_await_raises_the_runs_own_error(smu: SourceMeter) -> None:
    async def failing() -> None:
        twin(smu).fault = Fault("error", after=twin(smu).answered + 3, code=-300)
        await start(IVSweep(smu, start=0.0, stop=1.0, num_points=10, compliance=0.01))

    with pytest.raises(InstrumentError, match="-300"):
        asyncio.run(failing())
    twin(smu).fault = None


def test_a_run_dropped_from_a_worker_queue_is_cancelled(smu: SourceMeter) -> None:
    worker = Worker()
    try:
        first = worker.submit(IVSweep(smu, start=0.0, stop=1.0, num_points=3, delay=5.0, compliance=0.01))
        queued = worker.submit(IVSweep(smu, start=0.0, stop=1.0, num_points=3, compliance=0.01))
        while worker.current is not first:  # the first has left the queue: it runs
            time.sleep(0.001)
        worker.clear()
        assert queued.future.cancelled()
        with pytest.raises(CancelledError):
            queued.future.result(1)
        first.stop()
        assert first.future.result(10)["step"].size <= 3
    finally:
        assert worker.stop(timeout=10)


def test_points_of_a_queued_run_are_its_own_not_the_last_runs(smu: SourceMeter) -> None:
    sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=3, compliance=0.01)
    worker = Worker()
    try:
        first = worker.submit(sweep).future.result(10)
        hold = worker.submit(IVSweep(smu, start=0.0, stop=1.0, num_points=3, delay=0.05, compliance=0.01))
        again = worker.submit(sweep)  # queued behind `hold`: the sweep's table is still the first run's

        async def collect() -> list[dict[str, float]]:
            return [point async for point in again.points(interval=0.005)]

        points = asyncio.run(collect())
        hold.future.result(10)
        assert len(points) == 3
        assert min(p["timestamp"] for p in points) > max(first["timestamp"])
    finally:
        assert worker.stop(timeout=10)
