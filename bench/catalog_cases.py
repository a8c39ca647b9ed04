"""The run catalog's cost: per run (its two transactions), per point (none: it is not
called per point), and listing many runs.

Each against a baseline in the same process: the run's journal (created, ended, closed),
the same sweep without a catalog, and the same rows read by plain ``sqlite3``.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, Saving
from labrun.experiments.storage import Catalog, DataFile, RunEnd, RunRecord, journal_metadata

from .result import Result, median_round

K2400 = "GPIB0::24::INSTR"
COLUMNS = {"step": "", "source": "V", "voltage": "V", "current": "A", "timestamp": "s", "in_compliance": ""}


def _record(**fields: object) -> RunRecord:
    """An IV run's record with one instrument's snapshot, as large as a real one (~1 kB)."""
    snapshot = {
        "role": "instrument", "model": "keithley2400", "name": "smu", "address": K2400, "channel": None,
        "backend": "@labrun", "identity": "KEITHLEY INSTRUMENTS INC.,MODEL 2400,4242,C30",
        "settings": {"nplc": 1.0, "remote_sense": False, "current_limit": 0.01, "source_delay": 0.001,
                     "autozero": True, "averaging": "off", "output_off_state": "normal", "source_range": 2.0},
        "units": {"current_limit": "A", "source_delay": "s", "source_range": "V"}, "errors": {},
    }  # fmt: skip
    parameters = {"start": -1.0, "stop": 1.0, "num_points": 41, "delay": 0.1, "compliance": 0.01}
    return RunRecord.new(
        "iv_sweep", parameters=parameters, columns=COLUMNS, plot_axes=("voltage", "current"),
        instruments=[snapshot], **fields,
    )  # fmt: skip


def _per_call(fn: Callable[[int], object], n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) / n


def _shifted(fn: Callable[[int], None], offset: int, i: int) -> None:
    fn(offset + i)


def per_run(quick: bool) -> Result:
    """``started`` + ``ended`` on a SQLite catalog vs the journal every run writes anyway."""
    n = 20 if quick else 200
    with tempfile.TemporaryDirectory() as directory:
        catalog = Catalog(f"sqlite:///{directory}/catalog.sqlite")
        catalog.summaries(limit=1)  # opened: the tables made once, not in a run's cost
        records = [_record() for _ in range(n * 5)]
        end = RunEnd("completed", points=41)

        def journal(k: int) -> None:
            data_file = DataFile.create(directory, "iv", tuple(COLUMNS), journal_metadata(records[k]))
            data_file.write_end(end)
            data_file.close()

        def catalogued(k: int) -> None:
            catalog.started(records[k])
            catalog.ended(records[k].run_id, end)

        pairs = []
        for r in range(5):  # each round its own records: a run is started once
            base = _per_call(functools.partial(_shifted, journal, r * n), n)
            pairs.append((base, _per_call(functools.partial(_shifted, catalogued, r * n), n)))
        catalog.close()
    base, ours, spread = median_round(pairs)
    return Result(
        "catalog per run: started + ended (two transactions), SQLite in WAL",
        ours * 1e3,
        base * 1e3,
        "ms",
        "the run's journal: created with its record, ended, closed",
        "< 20 ms",
        ours < 0.020,
        f"{n} runs a round; {spread}",
    )


def per_point(quick: bool) -> Result:
    """An IV sweep's points inside a catalogued run (started before, ended after) vs the
    same sweep in a run without a catalog: the catalog is not called per point, so the
    points cost the same; its two calls are the per-run row's cost. CPU time (the sweep
    has no delay: all CPU): wall-clock rounds ranged 0.99-2.0× here while other programs ran."""
    points = 300 if quick else 2000
    with open_sourcemeter("keithley2400", K2400, sim=True) as smu, tempfile.TemporaryDirectory() as directory:
        catalog = Catalog(f"sqlite:///{directory}/catalog.sqlite")
        catalog.summaries(limit=1)
        calls: list[float] = []

        def sweep(with_catalog: bool) -> float:
            experiment = IVSweep(
                smu, start=0.0, stop=1.0, num_points=points, compliance=0.01, save=Saving(directory)
            )
            record = _record()
            began = time.perf_counter()
            if with_catalog:
                catalog.started(record)
            measuring, cpu = time.perf_counter(), time.process_time()
            experiment.run()
            measured, cpu = time.perf_counter(), time.process_time() - cpu
            if with_catalog:
                catalog.ended(record.run_id, RunEnd("completed", points=points))
                calls.append(measuring - began + time.perf_counter() - measured)
            return cpu / points

        sweep(True)  # warm: the first run's imports and twin
        pairs = []
        for r in range(6):  # which goes first alternates: the second of two ran slower here
            first, second = sweep(r % 2 == 1), sweep(r % 2 == 0)
            pairs.append((first, second) if r % 2 == 0 else (second, first))
        catalog.close()
    base, ours, spread = median_round(pairs)
    return Result(
        f"IV sweep per point in a catalogued run ({points} points, CPU time)",
        ours * 1e6,
        base * 1e6,
        "µs",
        "the same sweep in a run without a catalog",
        "≈ 1 (no per-point cost; ≤ 1.10×)",
        ours / base <= 1.10,
        f"{spread}; the run's two catalog calls {min(calls) * 1e3:.1f}-{max(calls) * 1e3:.1f} ms",
    )


def listing(quick: bool) -> list[Result]:
    """10,000 runs listed: summaries (``labrun runs``) and whole records, vs plain sqlite3."""
    count = 10_000
    rounds = 3 if quick else 5
    with tempfile.TemporaryDirectory() as directory:
        path = f"{directory}/catalog.sqlite"
        catalog = Catalog(f"sqlite:///{path}")
        for _ in range(count // 1000):
            batch = [_record(host="bench-pc") for _ in range(1000)]
            catalog.add(
                [dataclasses.replace(r, status="completed", ended=r.started, points=41) for r in batch]
            )
        del batch
        gc.collect()  # the records made to fill it are gone, as in a process that only lists
        raw = sqlite3.connect(path)
        summary = "SELECT id, experiment, started, status, points, instrument, instrument_count, host, "
        summary += "user_name, data_file, note FROM runs ORDER BY started_at DESC, id"

        def plain(query: str, decode: bool) -> float:
            began = time.perf_counter()
            rows = raw.execute(query).fetchall()
            if decode:
                rows = [json.loads(row[-1]) for row in rows]
            assert len(rows) == count
            return time.perf_counter() - began

        def ours(whole: bool) -> float:
            began = time.perf_counter()
            found = catalog.runs() if whole else catalog.summaries()
            assert len(found) == count
            return time.perf_counter() - began

        listed = [(plain(summary, False), ours(False)) for _ in range(rounds)]
        whole = [
            (plain("SELECT * FROM runs ORDER BY started_at DESC, id", True), ours(True))
            for _ in range(rounds)
        ]
        raw.close()
        catalog.close()
    results = []
    for name, pairs, baseline, target, limit in (
        (
            "list 10 000 runs (summaries: labrun runs --limit 0)",
            listed,
            "sqlite3: the same columns",
            "< 0.2 s",
            0.2,
        ),
        (
            "list 10 000 runs as whole records (Catalog.runs)",
            whole,
            "sqlite3: rows + json.loads",
            "measured",
            None,
        ),
    ):
        base, mine, spread = median_round(pairs)
        ok = mine < limit if limit is not None else True
        results.append(Result(name, mine, base, "s", baseline, target, ok, spread))
    return results


CASES: dict[str, Callable[[bool], Result | list[Result]]] = {
    "catalog_run": per_run,
    "catalog_point": per_point,
    "catalog_list": listing,
}
