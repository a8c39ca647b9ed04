"""Watching a run: the live plot follows the data while the run is still going."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from labrun.drivers import SourceMeter, open_sourcemeter
from labrun.experiments import IVSweep, start
from labrun.experiments.cli.main import main
from labrun.experiments.model.time_trace import TimeTrace
from labrun.experiments.views.live import LivePlot, ProgressDisplay, follow

from .support import BENCH, in_measuring_thread


@pytest.fixture
def k2400() -> Iterator[SourceMeter]:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True, timeout=1.0) as smu:
        yield smu


class Gates:
    """Hold the measuring thread after chosen steps, so a test sees a run mid-way."""

    def __init__(self, *steps: int) -> None:
        self.reached = {s: threading.Event() for s in steps}
        self.go = {s: threading.Event() for s in steps}

    def __call__(self, point: dict[str, float]) -> None:
        step = int(point["step"]) + 1  # points measured so far
        if step in self.reached:
            self.reached[step].set()
            self.go[step].wait(5)

    def at(self, step: int) -> None:
        assert self.reached[step].wait(5), f"the run never reached step {step}"

    def release(self, step: int) -> None:
        self.go[step].set()


def drawn(live: LivePlot) -> tuple[np.ndarray, np.ndarray]:
    x, y = live.line.get_data()
    return np.asarray(x), np.asarray(y)


def test_the_live_plot_shows_the_data_while_the_run_is_still_running(k2400: SourceMeter) -> None:
    gates = Gates(5, 12)
    sweep = IVSweep(k2400, start=-1.0, stop=1.0, num_points=21, compliance=0.01)
    in_measuring_thread(sweep, gates)
    run = start(sweep)
    live = LivePlot(run)
    try:
        gates.at(5)
        assert live.refresh()
        x, y = drawn(live)
        assert run.running and len(x) == 5 and live.shown == 5
        np.testing.assert_array_equal(x, run.data["voltage"])
        np.testing.assert_array_equal(y, run.data["current"])
        assert y == pytest.approx(x / 1e3, rel=1e-3)  # the 1 kOhm load, as measured
        assert "running, 5 of 21" in live.axes.get_title()
        assert live.png().startswith(b"\x89PNG")  # draws headless (Agg)

        # slower than the refresh: nothing new, nothing redrawn
        updates = live.updates
        assert not live.refresh() and live.updates == updates

        # faster than the refresh: seven points arrived between two refreshes, all drawn
        gates.release(5)
        gates.at(12)
        assert live.refresh()
        x, _ = drawn(live)
        assert run.running and len(x) == 12
        np.testing.assert_array_equal(x, run.data["voltage"])
    finally:
        gates.release(5)
        gates.release(12)
    run.result(timeout=5)
    assert live.refresh()
    x, _ = drawn(live)
    assert len(x) == 21 and x[0] == pytest.approx(-1.0, rel=1e-3) and x[-1] == pytest.approx(1.0, rel=1e-3)
    assert "completed, 21 of 21" in live.axes.get_title()


def test_a_stopped_run_shows_its_final_state_and_every_point_kept(k2400: SourceMeter) -> None:
    gates = Gates(4)
    sweep = IVSweep(k2400, start=0.0, stop=1.0, num_points=50, compliance=0.01)
    in_measuring_thread(sweep, gates)
    run = start(sweep)
    live = LivePlot(run)
    gates.at(4)
    run.stop()
    gates.release(4)
    ended = follow(run, interval=0.01, progress=False)
    assert ended is None  # no window asked for
    assert live.refresh()
    assert live.shown == 4 == len(run.data["voltage"])
    assert "stopped, 4 of 50" in live.axes.get_title()


def test_follow_with_a_window_draws_the_final_state_headless(
    k2400: SourceMeter, capsys: pytest.CaptureFixture[str]
) -> None:
    import matplotlib.pyplot as plt

    sweep = IVSweep(k2400, start=0.0, stop=1.0, num_points=30, delay=0.002, compliance=0.01)
    run = start(sweep)
    live = follow(run, interval=0.005, progress=True, live=True)
    try:
        assert live is not None and not run.running
        x, _ = drawn(live)
        assert len(x) == 30 and "completed, 30 of 30" in live.axes.get_title()
        assert live.updates >= 1
        bar = capsys.readouterr().err
        assert "30/30" in bar and "completed" in bar
    finally:
        plt.close("all")


def test_the_plot_follows_any_pair_of_columns(k2400: SourceMeter) -> None:
    trace = TimeTrace(k2400, level=0.5, num_points=20, compliance=0.01)
    run = start(trace)
    run.result(timeout=5)
    live = LivePlot(run)  # a time trace: current against time
    assert live.refresh() and (live.x, live.y) == ("time", "current")
    assert live.axes.get_xlabel() == "time (s)"
    live = LivePlot(run, x="step", y="voltage")
    assert live.refresh()
    np.testing.assert_array_equal(drawn(live)[1], run.data["voltage"])
    with pytest.raises(ValueError, match=r"no column 'power'.*'voltage'"):
        LivePlot(run, y="power")


def test_the_progress_display_counts_every_point_and_names_the_end(
    k2400: SourceMeter, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    run = start(IVSweep(k2400, start=0.0, stop=1.0, num_points=7, compliance=0.01))
    bar = ProgressDisplay(run, file=sys.stderr)
    run.result(timeout=5)
    bar.close()
    assert bar.bar.n == 7
    assert "7/7" in capsys.readouterr().err


def test_labrun_run_live_runs_headless_and_warns_there_is_no_window(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    status = main(["run", "experiments/configs/iv_resistor.yaml", "--out", str(tmp_path), "--live"])
    assert status == 0
    assert "live plot is not shown" in caplog.text
    assert len(list(tmp_path.glob("*.csv"))) == 1 and len(list(tmp_path.glob("*.png"))) == 1


@pytest.mark.parametrize("interval", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_refresh_interval_is_refused_before_anything_runs(
    interval: str, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "experiments/configs/iv_resistor.yaml", "--out", str(tmp_path), "--interval", interval])
    assert exit_.value.code == 2
    assert not list(tmp_path.iterdir())
