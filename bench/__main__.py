"""Run the benchmarks, print a table of ratios, write it as JSON.

python -m bench              # full run (each case well under a minute)
python -m bench --quick      # small sizes: checks that every case runs and reports
python -m bench --only stop  # one case

Each case runs in a fresh interpreter of its own (as pyperf does): measured in one
process after the others, the per-point rows came out 10-20 % slower than alone, so a
row depended on which cases ran before it.
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from . import (
    analysis_cases,
    cases,
    catalog_cases,
    memory_cases,
    panel_cases,
    peer_cases,
    served_cases,
    timed_cases,
    twin_cases,
    watch_cases,
)
from .result import Result

CASES: dict[str, Callable[[bool], Result | list[Result]]] = {
    **twin_cases.CASES,
    **cases.CASES,
    **watch_cases.CASES,
    **served_cases.CASES,
    **analysis_cases.CASES,
    **memory_cases.CASES,
    **timed_cases.CASES,
    **peer_cases.CASES,
    **panel_cases.CASES,
    **catalog_cases.CASES,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (CI): runs and reports, numbers rough"
    )
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="run only these cases")
    parser.add_argument("--json", default="bench/results.json", help="where to write the table")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # a case's own process
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    names = args.only or list(CASES)
    if args.here:
        write(pathlib.Path(args.json), args.quick, run_here(names, args.quick))
        return 0
    results: list[Result] = []
    failed = []
    for name in names:
        t = time.perf_counter()
        out = run_apart(name, args.quick)
        if out is None:
            failed.append(name)
        else:
            results.extend(out)
        print(f"[{name}: {time.perf_counter() - t:.1f} s]", file=sys.stderr)
    print(table(results))
    path = pathlib.Path(args.json)
    write(path, args.quick, results)
    print(f"written: {path}", file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run_here(names: list[str], quick: bool) -> list[Result]:
    results: list[Result] = []
    for name in names:
        out = CASES[name](quick)
        results.extend(out if isinstance(out, list) else [out])
    return results


def run_apart(name: str, quick: bool) -> list[Result] | None:
    """One case in a fresh interpreter; its rows, or None if it failed (its error is shown)."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "rows.json"
        command = [sys.executable, "-m", "bench", "--here", "--only", name, "--json", str(path)]
        if subprocess.run([*command, *(["--quick"] if quick else [])], check=False).returncode:
            return None
        rows = json.loads(path.read_text(encoding="utf-8"))["results"]
    return [Result(**{k: v for k, v in row.items() if k != "ratio"}) for row in rows]


def write(path: pathlib.Path, quick: bool, results: list[Result]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "quick": quick,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": __import__("os").cpu_count(),
                "results": [{**r.__dict__, "ratio": r.ratio} for r in results],
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def table(results: list[Result]) -> str:
    rows = [("benchmark", "labrun", "baseline", "ratio", "target", "met", "spread")]
    for r in results:
        rows.append(
            (
                r.name,
                f"{r.measured:.3g} {r.unit}",
                f"{r.baseline:.3g} {r.unit} ({r.baseline_is})",
                f"{r.ratio:.3g}×",
                r.target,
                "yes" if r.ok else "no",
                r.note,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
