"""``labrun analyze DATAFILE``: spectra of a data file's columns, as CSV and PNG."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

from labrun.analysis.pool import AnalysisPool
from labrun.analysis.spectrum import Spectrum, clock_of, on_uniform_clock, sample_rate_of
from labrun.experiments.storage import DataFile, load_data
from labrun.experiments.views.plot import plot_spectrum

NOT_SIGNALS = {"step", "time", "timestamp", "source", "in_compliance"}


@dataclass(frozen=True)
class Analysis:
    data_file: pathlib.Path
    plot_file: pathlib.Path
    sample_rate: float
    spectra: dict[str, Spectrum]
    skipped: int = 0  # malformed rows left out (skip_bad_rows)


def analyze_file(
    path: str | pathlib.Path,
    *,
    columns: list[str] | None = None,
    window: str = "hann",
    out: str | pathlib.Path | None = None,
    pool: AnalysisPool | None = None,
    skip_bad_rows: bool = False,
) -> Analysis:
    """Spectrum of each column (default: every measured one), computed in worker processes.

    The sample times come from the ``time`` column (or ``timestamp``); the samples are
    interpolated onto as many evenly spaced instants over the same span first (a
    host-timed trace jitters), and the rate is theirs.
    A malformed row is an error (``skip_bad_rows``: left out, counted in ``skipped``); a
    NaN or infinity in a chosen column is an error naming its rows, never a wrong peak.
    """
    path = pathlib.Path(path)
    data = load_data(path, skip_bad_rows=skip_bad_rows)
    if len(data) < 2:
        raise ValueError(f"{path}: {len(data)} rows; a spectrum needs at least 2")
    clock = clock_of(data.columns, str(path))
    try:
        sample_rate_of(data[clock])  # refuses a clock that does not advance
    except ValueError as error:
        raise ValueError(f"{path}: {clock} column: {error}") from None
    chosen = columns or [c for c in data.columns if c not in NOT_SIGNALS]
    unknown = [c for c in chosen if c not in data.columns]
    if unknown:
        raise ValueError(f"{path}: no column {', '.join(unknown)}; columns: {', '.join(data.columns)}")
    for column in chosen:
        bad = np.flatnonzero(~np.isfinite(data[column]))
        if len(bad):
            rows = ", ".join(str(int(i) + 1) for i in bad[:5]) + (", ..." if len(bad) > 5 else "")
            raise ValueError(f"{path}: column {column} has {len(bad)} NaN or infinite values (rows {rows})")
    own_pool = pool is None
    workers = pool or AnalysisPool(max_workers=min(len(chosen), 2))
    try:
        evenly = {c: on_uniform_clock(data[clock], data[c]) for c in chosen}
        rate = next(iter(evenly.values()))[1]
        futures = {c: workers.spectrum(v - v.mean(), rate, window) for c, (v, _) in evenly.items()}
        spectra = {c: f.result() for c, f in futures.items()}
    finally:
        if own_pool:
            workers.close()
    directory = pathlib.Path(out) if out is not None else path.parent
    first = next(iter(spectra.values()))
    table = DataFile.create(
        directory,
        f"{path.stem}_spectrum",
        ("frequency", *spectra),
        {"source": str(path), "sample_rate": rate, "window": window, "mean_removed": True},
    )
    frequency = first.frequency  # computed on access: once
    try:
        for k, f in enumerate(frequency):
            table.write((f, *(s.power[k] for s in spectra.values())))
    finally:
        table.close()
    plot_file = table.path.with_suffix(".png")
    plot_spectrum(frequency, {c: s.power for c, s in spectra.items()}, plot_file, title=path.stem)
    return Analysis(table.path, plot_file, rate, spectra, len(data.skipped))
