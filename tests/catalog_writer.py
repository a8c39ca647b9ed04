"""A process of its own that writes runs to a catalog, for the tests (``python -m``).

``write URL COUNT``: reads "go" from stdin (so two writers start together), then records
COUNT runs, each started and ended, and prints their ids.
``die URL DIRECTORY POINTS``: starts one run with a journal of POINTS rows, prints its id
and waits on stdin until the test kills it (kill -9: no end is written anywhere).
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

from labrun.experiments.storage import Catalog, RunEnd

from .records import iv_record, iv_rows, write_journal


def write(url: str, count: int) -> None:
    catalog = Catalog(url)
    catalog.runs(limit=1)  # opened (tables made) before the start line: the race is the runs'
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    for k in range(count):
        record = iv_record(parameters={"k": k})
        catalog.started(record)
        catalog.ended(record.run_id, RunEnd("completed", points=k))
        print(record.run_id)
    sys.stdout.flush()


def die(url: str, directory: str, points: int) -> None:
    catalog = Catalog(url)
    record = iv_record()
    path = write_journal(pathlib.Path(directory), record, iv_rows(points))
    catalog.started(dataclasses.replace(record, data_file=str(path)))
    print(record.run_id, flush=True)
    sys.stdin.readline()  # killed while waiting here


if __name__ == "__main__":
    verb, *args = sys.argv[1:]
    if verb == "write":
        write(args[0], int(args[1]))
    else:
        die(args[0], args[1], int(args[2]))
