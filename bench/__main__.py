"""Run the benchmarks, print a table of ratios, write it as JSON.

python -m bench              # full run (each case well under a minute)
python -m bench --quick      # small sizes: checks that every case runs and reports
python -m bench --only stop  # one case
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import platform
import sys
import time
from collections.abc import Callable

from . import analysis_cases, cases, panel_cases, peer_cases, served_cases, timed_cases
from .result import Result

CASES: dict[str, Callable[[bool], Result | list[Result]]] = {
    **cases.CASES,
    **served_cases.CASES,
    **analysis_cases.CASES,
    **timed_cases.CASES,
    **peer_cases.CASES,
    **panel_cases.CASES,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (CI): runs and reports, numbers rough"
    )
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="run only these cases")
    parser.add_argument("--json", default="bench/results.json", help="where to write the table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results: list[Result] = []
    for name in args.only or list(CASES):
        t = time.perf_counter()
        out = CASES[name](args.quick)
        results.extend(out if isinstance(out, list) else [out])
        print(f"[{name}: {time.perf_counter() - t:.1f} s]", file=sys.stderr)
    print(table(results))
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "quick": args.quick,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": __import__("os").cpu_count(),
                "results": [{**r.__dict__, "ratio": r.ratio} for r in results],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"written: {path}", file=sys.stderr)
    return 0


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
