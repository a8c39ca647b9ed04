"""Analysis in processes: spectra, the pool (spawn), shared memory ownership, the bounded stream."""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import pytest
from distributed import Client, LocalCluster

from labrun.analysis import spectrum as spectrum_module
from labrun.analysis.pool import AnalysisPool
from labrun.analysis.shared import SharedArray, SharedRef, attached, mappings_kept, unmap_kept
from labrun.analysis.spectrum import WINDOW_CACHE_BYTES, WINDOWS, power_spectrum, window
from labrun.analysis.stream import BoundedStream, NpyWriter, npy_shape, write_stream

SPAWN = multiprocessing.get_context("spawn")


def shm_segments() -> set[str]:
    return {n for n in os.listdir("/dev/shm") if n.startswith("psm_")}


@pytest.fixture(scope="module")
def pool() -> Iterator[AnalysisPool]:
    with AnalysisPool(max_workers=2, start_method="spawn") as p:
        yield p


# ------------------------------------------------------------------ spectra


def test_a_sine_lands_in_its_bin_with_its_power() -> None:
    fs, n = 1000.0, 1000
    t = np.arange(n) / fs
    spectrum = power_spectrum(3.0 * np.sin(2 * np.pi * 50 * t), fs, "rect")
    assert spectrum.peak() == 50.0
    assert spectrum.power[50] == pytest.approx(9.0 / 2)  # A²/2
    assert spectrum.frequency[1] == pytest.approx(fs / n)


@pytest.mark.parametrize("n", [1000, 1001])
def test_parseval_holds(n: int) -> None:
    x = np.random.default_rng(3).normal(size=n) + 0.2
    assert power_spectrum(x, 10.0, "rect").power.sum() == pytest.approx(np.mean(x**2))


def test_equals_numpy_fft_and_averages_rows() -> None:
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(5, 256))
    averaged = power_spectrum(rows, 1.0, "rect")
    singles = [power_spectrum(r, 1.0, "rect").power for r in rows]
    assert averaged.power == pytest.approx(np.mean(singles, axis=0))
    direct = np.abs(np.fft.rfft(rows[0])) ** 2 / 256**2
    direct[1:-1] *= 2
    assert singles[0] == pytest.approx(direct)
    assert averaged.traces == 5


@pytest.mark.parametrize("window", WINDOWS)
def test_every_window_finds_the_tone(window: str) -> None:
    t = np.arange(2048) / 2048.0
    assert power_spectrum(np.sin(2 * np.pi * 123 * t), 2048.0, window).peak() == pytest.approx(123.0)


def test_windows_are_computed_once_per_length_and_cannot_be_altered() -> None:
    w = window("hann", 1000)
    assert window("hann", 1000) is w
    assert w == pytest.approx(np.hanning(1000))
    with pytest.raises(ValueError, match="read-only"):
        w[0] = 1.0
    assert window("hann", 1001) is not w
    # bounded in bytes: windows of other lengths push the least recently used out
    for extra in range(WINDOW_CACHE_BYTES // 2**20 + 1):
        window("rect", 2**17 + extra)  # 1 MiB each
    assert window("hann", 1000) is not w


def numpy_power(rows: np.ndarray, window_name: str) -> np.ndarray:
    """The textbook one-sided power spectrum, averaged over rows, straight from numpy."""
    rows = np.atleast_2d(rows)
    n = rows.shape[1]
    w = window(window_name, n)
    power: np.ndarray = np.mean(np.abs(np.fft.rfft(rows * w, axis=1)) ** 2, axis=0) / (n * np.sum(w**2))
    power[1 : (n + 1) // 2] *= 2  # every bin with a negative-frequency twin
    return power


SHAPES = [(1, 2**14), (64, 256), (3, 1001), (1, 2**15), (300, 64), (2, 7)]


def test_spectra_of_any_shape_in_turn_and_in_threads_equal_numpys() -> None:
    # the temporaries are kept per thread and reused: larger, then smaller, then at once
    rng = np.random.default_rng(6)
    inputs = [rng.normal(size=shape) for shape in SHAPES]
    expected = [numpy_power(x, "hann") for x in inputs]
    firsts = [power_spectrum(x, 1.0).power for x in inputs]  # kept: a later call must not alter them
    for x, want in zip(inputs * 2, expected * 2, strict=True):
        assert power_spectrum(x, 1.0).power == pytest.approx(want)
    with ThreadPoolExecutor(4) as threads:
        for got, want in zip(
            threads.map(lambda x: power_spectrum(x, 1.0).power, inputs * 8), expected * 8, strict=True
        ):
            assert got == pytest.approx(want)
    for first, want in zip(firsts, expected, strict=True):
        assert first == pytest.approx(want)


def test_temporaries_beyond_the_scratch_bound_are_made_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spectrum_module, "SCRATCH_BYTES", 1024)
    x = np.random.default_rng(7).normal(size=(4, 4096))
    assert power_spectrum(x, 1.0, "blackman").power == pytest.approx(numpy_power(x, "blackman"))


def test_bad_spectrum_input_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        power_spectrum(np.ones(8), 1.0, "kaiser")
    with pytest.raises(ValueError, match="sample_rate"):
        power_spectrum(np.ones(8), 0.0)
    with pytest.raises(ValueError, match=">= 2 samples"):
        power_spectrum(np.ones(1), 1.0)


# --------------------------------------------------------------------- pool


def test_the_spawned_pool_computes_what_numpy_does(pool: AnalysisPool) -> None:
    x = np.random.default_rng(5).normal(size=(3, 4096))
    remote = pool.spectrum(x, 100.0).result(60)
    local = power_spectrum(x, 100.0)
    assert remote.power == pytest.approx(local.power)
    assert pool.shares_memory


@pytest.mark.timeout(120)
def test_a_dask_distributed_executor_runs_the_analysis_by_value() -> None:
    """A real scheduler and a worker process (as on a cluster, on one machine)."""
    before = shm_segments()
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        with AnalysisPool(client.get_executor()) as remote:
            assert not remote.shares_memory  # shared memory does not reach other machines
            t = np.arange(2000) / 1000.0
            spectrum = remote.spectrum(np.sin(2 * np.pi * 50.0 * t), 1000.0).result(60)
            assert spectrum.peak() == pytest.approx(50.0)
            assert spectrum.power == pytest.approx(power_spectrum(np.sin(2 * np.pi * 50.0 * t), 1000.0).power)
            assert remote.submit_array(np.sum, np.arange(10)).result(60) == 45
            with pytest.raises(ValueError, match=">= 2 samples"):
                remote.spectrum(np.ones(1), 1.0).result(60)  # the worker's error, on the future
            assert remote.segments == 0
        assert client.status == "running"  # the pool closes only executors it made
    assert shm_segments() <= before


def wait_done_callbacks(pool: AnalysisPool) -> None:
    deadline = time.monotonic() + 5
    while pool.segments and time.monotonic() < deadline:  # done-callbacks run just after
        time.sleep(0.01)


def test_a_worker_error_surfaces_on_the_future_and_the_segment_is_freed() -> None:
    before = shm_segments()
    with AnalysisPool(max_workers=1, keep_bytes=0) as p:  # keep nothing: unlinked at once
        future = p.spectrum(np.ones(1), 1.0)  # one sample: the worker raises
        with pytest.raises(ValueError, match=">= 2 samples"):
            future.result(60)
        wait_done_callbacks(p)
        assert p.segments == 0 and p.kept == 0
        assert shm_segments() <= before


def test_segments_are_reused_with_fresh_data_and_unlinked_at_close() -> None:
    before = shm_segments()
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(4, 4096)), 5 * rng.normal(size=(4, 4096))
    p = AnalysisPool(max_workers=1)
    try:
        assert p.spectrum(first, 1.0).result(60).power == pytest.approx(power_spectrum(first, 1.0).power)
        wait_done_callbacks(p)
        used = shm_segments() - before
        assert p.kept == 2 and len(used) == 2  # the traces' segment and the spectrum's
        # the same segment carries the next job's data, not the last one's
        assert p.spectrum(second, 1.0).result(60).power == pytest.approx(power_spectrum(second, 1.0).power)
        wait_done_callbacks(p)
        assert shm_segments() - before == used and p.kept == 2
    finally:
        p.close()
    assert p.kept == 0 and shm_segments() <= before


def kept_by_worker(array: np.ndarray) -> int:
    return mappings_kept()


def test_workers_keep_their_mappings_of_reused_segments_within_keep_bytes() -> None:
    x = np.random.default_rng(4).normal(size=(8, 4096))  # 256 KiB in, 16 KiB of spectrum out
    with AnalysisPool(max_workers=1) as p:
        for _ in range(3):
            assert p.spectrum(x, 1.0).result(60).power == pytest.approx(power_spectrum(x, 1.0).power)
            wait_done_callbacks(p)
        # one mapping for the traces, one for the spectrum, reused: not one per job
        probe = np.zeros(2**16)  # a segment of its own size, so it reuses neither of those
        assert p.submit_array(kept_by_worker, probe).result(60) == 256 * 1024 + 64 * 1024
    with AnalysisPool(max_workers=1, keep_bytes=0) as p:
        p.spectrum(x, 1.0).result(60)
        assert p.submit_array(kept_by_worker, probe).result(60) == 0


def test_a_kept_mapping_is_never_mistaken_for_a_new_segment_of_the_same_name() -> None:
    name = f"labrun_test_{os.getpid()}"
    try:
        for value, token in ((1.0, "first"), (2.0, "second")):
            shm = shared_memory.SharedMemory(name=name, create=True, size=4096)
            np.ndarray((512,), np.float64, buffer=shm.buf)[...] = value
            with attached(SharedRef(name, (512,), "<f8", token), keep_bytes=2**20) as view:
                assert view[0] == value  # the second segment's data, not the kept first one's
            shm.close()
            shm.unlink()  # the owner is done; the mapping is still kept here
        assert mappings_kept() == 2 * 4096
        # beyond keep_bytes the least recently used mapping goes
        shm = shared_memory.SharedMemory(name=name, create=True, size=4096)
        with attached(SharedRef(name, (512,), "<f8", "third"), keep_bytes=2 * 4096):
            pass
        assert mappings_kept() == 2 * 4096
        shm.close()
        shm.unlink()
    finally:
        unmap_kept()
    assert mappings_kept() == 0


def test_cancelling_a_queued_spectrum_cancels_its_job_and_frees_its_segments(tmp_path: pathlib.Path) -> None:
    gate = str(tmp_path / "go")
    with AnalysisPool(max_workers=1, keep_bytes=0) as p:
        busy = p.submit_array(total_when_released, np.ones(4), gate)  # the only worker waits
        fillers = [p.submit(time.sleep, 0) for _ in range(3)]  # fill the executor's call queue
        queued = p.spectrum(np.ones(4096), 1.0)
        assert queued.cancel() and queued.cancelled()
        pathlib.Path(gate).touch()
        assert busy.result(60) == 4.0
        [f.result(60) for f in fillers]
        wait_done_callbacks(p)
        assert p.segments == 0


def test_spectra_from_the_pool_keep_their_errors_and_their_samples_type(pool: AnalysisPool) -> None:
    with pytest.raises(ValueError, match="unknown window"):
        pool.spectrum(np.ones(64), 1.0, "kaiser").result(60)
    counts = np.random.default_rng(8).integers(-2000, 2000, size=(4, 1024)).astype(np.int16)
    assert pool.spectrum(counts, 10.0).result(60).power == pytest.approx(power_spectrum(counts, 10.0).power)
    with pytest.raises(ValueError, match=r">= 1 rows.*shape \(0, 16\)"):
        pool.spectrum(np.ones((0, 16)), 1.0).result(60)


def total_when_released(array: np.ndarray, gate: str) -> float:
    """Runs in a worker: holds its segment until the file ``gate`` exists."""
    while not os.path.exists(gate):
        time.sleep(0.005)
    return float(array.sum())


def test_segments_in_use_are_bounded_in_bytes(tmp_path: pathlib.Path) -> None:
    gate = str(tmp_path / "go")
    mib = np.ones(2**17)  # 1 MiB
    with AnalysisPool(max_workers=1, in_flight_bytes=2 * 2**20) as p:
        futures = [p.submit_array(total_when_released, k * mib, gate) for k in (1, 2)]  # 2 MiB in use
        third: list[Any] = []
        submitter = threading.Thread(
            target=lambda: third.append(p.submit_array(total_when_released, 3 * mib, gate))
        )
        submitter.start()
        submitter.join(0.3)
        assert submitter.is_alive() and not third  # waits: a third MiB would exceed the bound
        assert p.segments == 2
        pathlib.Path(gate).touch()
        submitter.join(30)
        assert [f.result(60) for f in [*futures, *third]] == [2**17, 2 * 2**17, 3 * 2**17]


def test_a_killed_worker_is_reported_not_hung_on_and_nothing_leaks() -> None:
    before = shm_segments()
    p = AnalysisPool(max_workers=1, start_method="spawn")
    try:
        crash = p.submit(os._exit, 1)  # the worker process dies
        queued = p.spectrum(np.random.default_rng(6).normal(size=100_000), 1.0)
        with pytest.raises(BrokenProcessPool):
            crash.result(60)
        with pytest.raises(BrokenProcessPool):
            queued.result(60)
    finally:
        p.close()
    assert p.segments == 0
    assert shm_segments() <= before


def test_an_interrupted_caller_still_leaves_no_segment() -> None:
    before = shm_segments()
    p = AnalysisPool(max_workers=1, start_method="spawn")
    big = np.zeros((64, 2**16))
    futures = [p.spectrum(big, 1.0) for _ in range(6)]
    with pytest.raises(TimeoutError):
        futures[-1].result(timeout=0.001)  # the caller gives up (as on Ctrl-C)
    p.close(cancel=True)
    assert p.segments == 0
    assert shm_segments() <= before


def test_forkserver_works_too() -> None:
    with AnalysisPool(max_workers=1, start_method="forkserver") as p:
        assert p.spectrum(np.sin(np.arange(64)), 1.0).result(60).traces == 1


def test_any_executor_works_with_arrays_by_value() -> None:
    with ThreadPoolExecutor(2) as executor:
        p = AnalysisPool(executor)
        assert not p.shares_memory
        assert p.spectrum(np.sin(np.arange(64)), 1.0).result(10).power.size == 33
        p.close()


def test_shared_arrays_are_read_only_in_workers_and_unlinked_by_the_owner() -> None:
    with SharedArray(np.arange(10.0)) as shared:
        with attached(shared.ref) as view:
            assert view.sum() == 45.0
            assert not view.flags.writeable
        name = shared.ref.name
        assert f"{name.lstrip('/')}" in os.listdir("/dev/shm")
    assert f"{name.lstrip('/')}" not in os.listdir("/dev/shm")
    with pytest.raises(RuntimeError, match="closed"):
        shared.view((10,), np.float64)  # not a fresh array of garbage


# ------------------------------------------------------------------- stream


def slow_consumer(stream: BoundedStream, results: Any, delay: float) -> None:
    received, checksum = 0, 0.0
    while (frame := stream.get()) is not None:
        received += 1
        checksum += float(frame[0, 0])
        time.sleep(delay)
    results.put((received, checksum))


def rss() -> int:
    with open("/proc/self/statm") as fp:
        return int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.timeout(120)
def test_a_fast_producer_stays_within_its_byte_budget_and_loses_nothing() -> None:
    frame_bytes, capacity, frames = 2**20, 8 * 2**20, 120  # 120 MB through an 8 MB stream
    stream = BoundedStream(capacity, context=SPAWN)
    results = SPAWN.Queue()
    consumer = SPAWN.Process(target=slow_consumer, args=(stream, results, 0.002))
    consumer.start()
    peak, baseline, done = [0], rss(), threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    for i in range(frames):
        assert stream.put(np.full((1024, 128), float(i)), timeout=30)
        assert stream.in_flight <= capacity
    stream.close()
    received, checksum = results.get(timeout=60)
    done.set()
    sampler.join()
    consumer.join(30)
    assert (received, checksum) == (frames, float(sum(range(frames))))  # nothing lost
    assert peak[0] - baseline <= capacity + 4 * frame_bytes + 16 * 2**20  # budget + frames being pickled


@pytest.mark.timeout(120)
def test_drop_mode_counts_exactly_what_it_dropped() -> None:
    stream = BoundedStream(4 * 8192, mode="drop", context=SPAWN)
    results = SPAWN.Queue()
    consumer = SPAWN.Process(target=slow_consumer, args=(stream, results, 0.005))
    consumer.start()
    accepted = sum(stream.put(np.full((32, 32), 1.0)) for _ in range(400))
    stream.close()
    received, _ = results.get(timeout=60)
    consumer.join(30)
    assert received == accepted == stream.sent
    assert accepted + stream.dropped == 400
    assert stream.dropped > 0


def test_blocking_put_times_out_when_nobody_consumes() -> None:
    stream = BoundedStream(1000, context=SPAWN)
    assert stream.put(np.zeros(100))  # 800 bytes
    with pytest.raises(TimeoutError, match="stream full"):
        stream.put(np.zeros(100), timeout=0.05)
    with pytest.raises(ValueError, match="cannot fit"):
        stream.put(np.zeros(1000))


def test_a_consumer_writes_the_stream_to_an_npy_file(tmp_path: pathlib.Path) -> None:
    stream = BoundedStream(2**20, context=SPAWN)
    path = tmp_path / "frames.npy"
    writer = SPAWN.Process(target=write_stream, args=(stream, path))
    writer.start()
    for i in range(20):
        stream.put(np.full((16, 8), float(i), dtype=np.float32))
    stream.close()
    writer.join(60)
    assert writer.exitcode == 0
    assert npy_shape(path) == (20, 16, 8)
    data = np.load(path)
    assert data.dtype == np.float32 and data[:, 0, 0].tolist() == list(range(20))


def test_npy_writer_refuses_mixed_frames_and_existing_files(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "x.npy"
    with NpyWriter(path) as w:
        w.append(np.zeros(3))
        with pytest.raises(ValueError, match="differs"):
            w.append(np.zeros(4))
    assert np.load(path).shape == (1, 3)
    with pytest.raises(FileExistsError):
        NpyWriter(path)


# ------------------------------------------------------------ copy-free path


def test_traces_made_in_a_pool_array_travel_without_a_copy_and_the_power_is_a_view() -> None:
    before = shm_segments()
    with AnalysisPool(max_workers=1, keep_bytes=0) as p:
        traces = p.array((8, 4096))  # the producer writes here: an acquisition, a reader
        traces[...] = np.random.default_rng(5).normal(size=(8, 4096))
        assert len(shm_segments() - before) == 1
        spectrum = p.spectrum(traces, 1.0).result(60)
        assert spectrum.power == pytest.approx(power_spectrum(traces, 1.0).power)
        assert not spectrum.power.flags.owndata  # a view of the spectrum's segment, not a copy
        assert len(shm_segments() - before) == 2  # the traces' and the power's: none made for a copy
        head = p.spectrum(traces[:4], 1.0).result(60)  # the leading rows: the same segment, read in place
        assert head.power == pytest.approx(power_spectrum(traces[:4], 1.0).power)
        del traces, head
        assert len(shm_segments() - before) == 1  # given back as they went (keep_bytes=0: unlinked)
    assert shm_segments() - before == set()  # the power's name is gone with the pool...
    assert spectrum.power == pytest.approx(spectrum.power.copy())  # ...its memory is not: still readable
    kept = spectrum.power.sum()
    del spectrum
    assert np.isfinite(kept)


def test_a_dropped_result_gives_its_segment_back_for_the_next_job() -> None:
    with AnalysisPool(max_workers=1) as p:
        x = np.random.default_rng(6).normal(size=(4, 4096))
        p.spectrum(x, 1.0).result(60)  # not kept by anyone
        wait_done_callbacks(p)
        assert p.kept == 2 and p.segments == 0  # the traces' and the power's, ready for reuse
        results = [p.spectrum(x, 1.0).result(60) for _ in range(3)]  # kept: each its own power
        wait_done_callbacks(p)
        assert len({id(r.power.base) for r in results}) == 3
        assert all(r.power == pytest.approx(results[0].power) for r in results)
        del results
        assert p.kept == 4


def test_a_pool_array_is_plain_memory_where_nothing_is_shared() -> None:
    with ThreadPoolExecutor(1) as threads:
        p = AnalysisPool(threads)
        traces = p.array(1024)
        assert traces.flags.owndata and traces.shape == (1024,)
        traces[...] = np.sin(np.arange(1024))
        assert p.spectrum(traces, 1.0).result(60).power == pytest.approx(power_spectrum(traces, 1.0).power)
        p.close()


def test_a_spectrum_can_be_summed_into_room_given_for_it() -> None:
    traces = np.random.default_rng(7).normal(size=(5, 1000))
    out = np.full(501, np.nan)
    spectrum = power_spectrum(traces, 10.0, out=out)
    assert spectrum.power is out and out == pytest.approx(power_spectrum(traces, 10.0).power)
    with pytest.raises(ValueError, match=r"out: expected float64 of shape \(501,\)"):
        power_spectrum(traces, 10.0, out=np.zeros(500))
