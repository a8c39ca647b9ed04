"""Traces to analyse: the time-trace experiment, live spectra while it runs, `labrun analyze`."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

import numpy as np
import pytest

from labrun.analysis.pool import AnalysisPool
from labrun.drivers import open_sourcemeter
from labrun.experiments import Experiment, Point, Saving, start
from labrun.experiments.cli.main import main
from labrun.experiments.model.time_trace import TimeTrace
from labrun.experiments.views.live_analysis import LiveSpectra

from .support import BENCH, twin

CONFIG = pathlib.Path(__file__).parent.parent / "experiments" / "configs" / "trace_hum.yaml"


def test_a_time_trace_reads_the_level_repeatedly(tmp_path: pathlib.Path) -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        trace = TimeTrace(smu, level=2.0, num_points=50, compliance=0.01, save=Saving(str(tmp_path)))
        data = trace.run()
        assert data["current"] == pytest.approx(np.full(50, 2e-3), rel=2e-3)
        assert np.all(np.diff(data["time"]) > 0)
        assert twin(smu).state[(1, "output")] is False
    with pytest.raises(ValueError, match="outside"):
        TimeTrace(smu, level=300.0, num_points=5, compliance=0.01)
    with pytest.raises(ValueError, match="mode = 'power': Input should be 'voltage' or 'current'"):
        TimeTrace(smu, level=1.0, num_points=5, compliance=0.01, mode="power")


@pytest.mark.timeout(120)
def test_live_spectra_run_in_workers_while_the_trace_goes_on() -> None:
    with (
        open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu,
        AnalysisPool(max_workers=2) as pool,
    ):
        twin(smu).hum = (1e-6, 50.0)
        trace = TimeTrace(smu, level=1.0, num_points=600, interval=0.001, compliance=0.01)
        live = LiveSpectra(trace, pool, every=200, column="current")
        first_block_submitted = threading.Event()
        trace.subscribe(lambda p: first_block_submitted.set() if live.futures else None)
        run = start(trace)
        assert first_block_submitted.wait(60)
        assert run.running or run.progress.step >= 200  # submitted mid-run, the run went on
        run.result(60)
        spectra = live.results(60)
    assert len(spectra) == 3
    for spectrum in spectra:  # 50 Hz within a bin or two (sample times jitter)
        assert spectrum.peak() == pytest.approx(50.0, abs=3 * spectrum.frequency[1])


def test_labrun_analyze_finds_the_hum(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(CONFIG), "--out", str(tmp_path), "--no-progress"]) == 0
    (data_file,) = tmp_path.glob("trace_hum_*.csv")
    capsys.readouterr()
    assert main(["analyze", str(data_file), "--columns", "current", "--window", "hann"]) == 0
    out = capsys.readouterr().out
    peak = float(out.split("current: strongest at ")[1].split(" Hz")[0])
    rate = float(out.split("sample rate: ")[1].split(" Hz")[0])
    assert peak == pytest.approx(50.0, abs=3 * rate / 400)
    (spectrum_csv,) = tmp_path.glob("*_spectrum_*.csv")
    assert spectrum_csv.with_suffix(".png").exists()
    from labrun.experiments import load_data

    spectrum = load_data(spectrum_csv)
    assert spectrum.metadata["source"] == str(data_file)
    assert len(spectrum) == 201  # rfft of 400 samples


def test_labrun_analyze_refuses_bad_input(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert main(["run", str(CONFIG), "--out", str(tmp_path), "--no-progress"]) == 0
    (data_file,) = tmp_path.glob("trace_hum_*.csv")
    assert main(["analyze", str(data_file), "--columns", "resistance"]) == 2
    assert "no column resistance" in capsys.readouterr().err


class _Clocked(Experiment):
    """Points of a tone sampled at ``times`` (no instrument): the clock is the test's to set."""

    name = "clocked"
    columns: Mapping[str, str] = MappingProxyType({"time": "s", "current": "A"})

    def __init__(self, times: list[float]) -> None:
        super().__init__()
        self.times = times

    def total_steps(self) -> int:
        return len(self.times)

    def steps(self) -> Iterator[Point]:
        for t in self.times:
            yield {"time": t, "current": float(np.sin(2 * np.pi * 5.0 * t))}


def test_live_spectra_take_the_rate_from_the_clock_and_refuse_one_that_stands_still() -> None:
    with AnalysisPool(ThreadPoolExecutor(1)) as pool:
        ticking = _Clocked([k / 100 for k in range(100)])  # 100 Hz
        live = LiveSpectra(ticking, pool, every=100, column="current")
        ticking.run()
        (spectrum,) = live.results(30)
        assert spectrum.sample_rate == pytest.approx(100.0)
        assert spectrum.peak() == pytest.approx(5.0)

        stuck = _Clocked([0.0] * 100)
        live = LiveSpectra(stuck, pool, every=50, column="current")
        stuck.run()  # the run itself goes on: the error belongs to the analysis
        assert len(live.futures) == 2
        with pytest.raises(
            ValueError, match=r"current block 1: time column: the sample times do not increase"
        ):
            live.results(30)
        assert LiveSpectra(stuck, pool, every=50, sample_rate=10.0).pool is pool  # a given rate is used


def test_live_spectra_without_a_clock_need_a_sample_rate() -> None:
    class Unclocked(_Clocked):
        columns: Mapping[str, str] = MappingProxyType({"step": "", "current": "A"})

    with AnalysisPool(ThreadPoolExecutor(1)) as pool:
        with pytest.raises(ValueError, match=r"no 'time' or 'timestamp' column.*give sample_rate"):
            LiveSpectra(Unclocked([]), pool, every=10)
        with pytest.raises(ValueError, match="sample_rate must be > 0 Hz, got 0"):
            LiveSpectra(Unclocked([]), pool, every=10, sample_rate=0.0)


def test_live_spectra_put_late_samples_where_they_belong() -> None:
    """Samples taken late (a busy machine) are resampled onto an even grid before the FFT."""
    rng = np.random.default_rng(1)
    times = np.cumsum(np.where(rng.random(400) < 0.1, 0.04, 0.01))  # 100 Hz, one in ten stalls 40 ms
    with AnalysisPool(ThreadPoolExecutor(1)) as pool:
        late = _Clocked(list(times))
        live = LiveSpectra(late, pool, every=400, column="current")
        late.run()
        (spectrum,) = live.results(30)
    assert spectrum.peak() == pytest.approx(5.0, abs=2 * spectrum.frequency[1])


def test_labrun_analyze_takes_a_run_id_as_it_takes_a_file(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    assert main(["run", str(CONFIG), "--out", str(tmp_path), "--no-progress", "--catalog", catalog]) == 0
    (said,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("run: ")]
    short_id = said.split()[1]
    assert (
        main(
            ["analyze", short_id, "--columns", "current", "--catalog", catalog, "--out", str(tmp_path / "a")]
        )
        == 0
    )
    by_id = capsys.readouterr().out
    assert "current: strongest at " in by_id and "trace_hum_" in by_id
    assert main(["analyze", "0123abcd", "--catalog", catalog]) == 2
    assert "no such data file, and no run '0123abcd'" in capsys.readouterr().err
