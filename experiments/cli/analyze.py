"""``labrun analyze DATAFILE|RUN_ID``: spectra of a run's data columns, as CSV and PNG."""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from labrun.analysis.pool import AnalysisPool
from labrun.analysis.spectrum import WINDOWS, Spectrum, clock_of, on_uniform_clock, sample_rate_of
from labrun.experiments.engine import exits
from labrun.experiments.storage import DataFile, load_data
from labrun.experiments.views.plot import plot_spectrum

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2
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


def add_command(sub: Any) -> None:
    """``labrun analyze DATAFILE|RUN_ID``."""
    ana = sub.add_parser("analyze", help="power spectra of a run's data columns (CSV and PNG)")
    ana.add_argument("datafile", help="a data file, or a run's id (or its first 8 hex digits)")
    ana.add_argument("--catalog", help="where to look a run id up (a URL; default $LABRUN_CATALOG)")
    ana.add_argument("--columns", help="comma-separated; default: every measured column")
    ana.add_argument("--window", default="hann", choices=WINDOWS)
    ana.add_argument("--out", help="directory for the outputs (default: beside the data file)")
    ana.add_argument("--skip-bad-rows", action="store_true", help="leave malformed rows out (counted)")
    ana.set_defaults(handler=cmd_analyze)


def cmd_analyze(args: argparse.Namespace) -> int:
    from concurrent.futures.process import BrokenProcessPool

    exits.install_signal_handlers()  # SIGTERM/SIGHUP end it through the pool's cleanup
    try:
        result = analyze_file(
            data_file_of(args.datafile, args.catalog),
            columns=args.columns.split(",") if args.columns else None,
            window=args.window,
            out=args.out,
            skip_bad_rows=args.skip_bad_rows,
        )
    except BrokenProcessPool:
        print(
            "labrun: a worker process died (killed, or out of memory); no spectrum written", file=sys.stderr
        )
        return EXIT_FAILED
    except (OSError, ValueError) as error:
        print(f"labrun: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result.skipped:
        print(f"skipped: {result.skipped} malformed rows (--skip-bad-rows)")
    print(f"sample rate: {result.sample_rate:.6g} Hz")
    for name, spectrum in result.spectra.items():
        print(f"{name}: strongest at {spectrum.peak():.6g} Hz")
    print(f"spectrum: {result.data_file}")
    print(f"plot: {result.plot_file}")
    return 0


def data_file_of(given: str, catalog: str | None) -> str:
    """A data file's path as given, or the data file of the run a (short) id names."""
    if pathlib.Path(given).exists() or not re.fullmatch(r"[0-9a-fA-F-]{4,36}", given):
        return given
    from labrun.experiments.storage import RunNotFound, shared_catalog

    try:
        record = shared_catalog(catalog).get(given)
    except RunNotFound as missing:
        raise ValueError(f"{given}: no such data file, and {missing}") from None
    if record.data_file is None:
        raise ValueError(f"run {record.short_id} kept no data file (it was not saved)")
    return record.data_file
