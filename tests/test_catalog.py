"""The run catalog on real databases: SQLite files and a real PostgreSQL server.

Records go in and come back equal; the filters find what they should; a prefix names one
run or says why not; a run whose process was killed is found ``lost`` with its journal's
points; two processes writing at once lose nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from labrun.experiments.storage import Catalog, RunEnd, RunNotFound, RunRecord

from .records import fet_record, iv_record, iv_rows, snapshot, with_id_prefix, write_journal

ROOT = pathlib.Path(__file__).resolve().parent.parent
HOUR = dt.timedelta(hours=1)


def _at(hours_ago: float) -> str:
    return (dt.datetime.now().astimezone() - hours_ago * HOUR).isoformat()


#: records of runs started before this test's process: written on another machine, whose
#: processes this one cannot check (here, they would be found lost: see the last tests)
ELSEWHERE = "bench-pc"


def test_a_record_comes_back_as_it_went_in_and_with_its_end(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    record = iv_record(
        tags=["diode", "batch 7"], note="first try", sequence={"id": "s1", "index": 0, "of": 3}
    )
    catalog.started(record)
    assert catalog.get(record.run_id) == dataclasses.replace(record, tags=sorted(record.tags))
    end = RunEnd("stopped", stopped_by="SIGINT", points=3)
    catalog.ended(record.run_id, end)
    back = Catalog(catalog_url).get(record.run_id)  # another connection: it is in the database
    assert back.end == end
    assert back == dataclasses.replace(record.ended_as(end), tags=["batch 7", "diode"])
    assert back.instruments[0]["settings"]["nplc"] == 1.0 and back.plot_axes == ("voltage", "current")
    failed = iv_record()
    catalog.started(failed)
    catalog.ended(failed.run_id, RunEnd.of_error(ValueError("no reading"), points=0))
    assert catalog.get(failed.run_id).error == {"type": "ValueError", "message": "no reading"}


def test_a_run_is_started_once_and_ended_only_if_it_was_started(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    record = iv_record()
    catalog.started(record)
    with pytest.raises(ValueError, match=r"in .* already"):
        catalog.started(record)
    with pytest.raises(RunNotFound, match=r"its end \(completed\) is not recorded"):
        catalog.ended(iv_record().run_id, RunEnd("completed", points=1))


def test_the_filters_find_runs_newest_first(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    k2450 = [snapshot("keithley2450", "USB0::0x05E6::0x2450::1::INSTR")]
    old = iv_record(host=ELSEWHERE, started=_at(72), instruments=k2450)
    iv = iv_record(host=ELSEWHERE, started=_at(5), tags=["diode"])
    gates = {"id": "gates", "of": 2, "keys": {"vg": 1.0}}
    fet = fet_record(host=ELSEWHERE, started=_at(2), sequence={**gates, "index": 0})
    fet2 = fet_record(host=ELSEWHERE, started=_at(1), sequence={**gates, "index": 1})
    catalog.add([old, iv, fet, fet2])
    catalog.ended(old.run_id, RunEnd("completed", points=41))
    catalog.ended(fet.run_id, RunEnd("failed", error={"type": "DeviceError", "message": "-221"}, points=7))

    def ids(**filters: object) -> list[str]:
        """The runs' ids, the same whether whole records or summaries are asked for."""
        found = [r.run_id for r in catalog.runs(**filters)]  # type: ignore[arg-type]
        assert [s.run_id for s in catalog.summaries(**filters)] == found  # type: ignore[arg-type]
        return found

    assert ids() == [fet2.run_id, fet.run_id, iv.run_id, old.run_id]
    assert ids(experiment="iv_sweep") == [iv.run_id, old.run_id]
    assert ids(instrument="keithley2450") == [old.run_id]  # by model
    assert ids(instrument="GPIB0::22::INSTR") == [fet2.run_id, fet.run_id]  # by address
    assert ids(instrument="keithley2400 at GPIB0::24::INSTR") == [iv.run_id]  # by name
    assert ids(status="failed") == [fet.run_id]
    assert ids(status="running") == [fet2.run_id, iv.run_id]
    assert ids(since="2d") == [fet2.run_id, fet.run_id, iv.run_id]
    assert ids(since="3h") == [fet2.run_id, fet.run_id]
    assert ids(since=dt.datetime.now() - 90 * dt.timedelta(minutes=1)) == [fet2.run_id]
    assert ids(since=(dt.date.today() - dt.timedelta(days=4)).isoformat()) == ids()
    assert ids(tag="diode") == [iv.run_id]
    assert ids(sequence="gates") == [fet2.run_id, fet.run_id]
    assert ids(experiment="fet_output", status="running", sequence="gates") == [fet2.run_id]
    assert ids(limit=2) == [fet2.run_id, fet.run_id]
    assert ids(experiment="nothing") == []
    summary = catalog.summaries(status="failed")[0]
    assert (summary.short_id, summary.experiment, summary.started, summary.points) == (
        fet.short_id, "fet_output", fet.started, 7
    )  # fmt: skip
    assert (summary.instrument, summary.instruments, summary.host) == (
        "keysight_b2902 GPIB0::22::INSTR",
        2,
        ELSEWHERE,
    )
    assert catalog.summaries(tag="diode")[0].tags == ("diode",)
    with pytest.raises(ValueError, match="not one of running, completed"):
        catalog.runs(status="done")
    with pytest.raises(ValueError, match="neither an age"):
        catalog.runs(since="last week")


def test_a_prefix_names_one_run_or_says_why_not(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    first, second = with_id_prefix("abcd1", iv_record()), with_id_prefix("abcd2", iv_record())
    third = iv_record()
    catalog.add([first, second, third])
    assert catalog.get(first.run_id[:5]).run_id == first.run_id
    assert catalog.get(third.short_id).run_id == third.run_id
    assert catalog.get(third.run_id.upper()).run_id == third.run_id
    assert catalog.get(third.run_id.replace("-", "")[:12]).run_id == third.run_id  # dashes left out
    with pytest.raises(RunNotFound, match=r"'abcd' names 2 runs .*type more of the id"):
        catalog.get("abcd")
    with pytest.raises(RunNotFound, match="no run 'ffff"):
        catalog.get("ffff" if not third.run_id.startswith("ffff") else "eeee")
    for bad in ("abc", "run1", ""):
        with pytest.raises(RunNotFound, match="4 hex digits at least"):
            catalog.get(bad)


def test_tags_and_a_note_are_kept_and_found(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    record = iv_record()
    catalog.started(record)
    assert catalog.tag(record.short_id, "good", "diode", "good").tags == ["diode", "good"]
    assert catalog.tag(record.short_id, "diode").tags == ["diode", "good"]
    assert [r.run_id for r in catalog.runs(tag="good")] == [record.run_id]
    assert catalog.untag(record.short_id, "good").tags == ["diode"]
    assert catalog.runs(tag="good") == []
    assert catalog.set_note(record.short_id, "contacts re-made; compare with 1f3e").note.startswith(
        "contacts"
    )
    assert Catalog(catalog_url).get(record.run_id).note == "contacts re-made; compare with 1f3e"
    with pytest.raises(ValueError, match="empty"):
        catalog.tag(record.short_id, " ")


def _dying_writer(url: str, directory: pathlib.Path, points: int) -> str:
    """A process that records a run with a journal of ``points`` rows and is killed (-9)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.catalog_writer", "die", url, str(directory), str(points)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    assert Catalog(url).get(run_id).status == "running"  # its process is alive: it stays running
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert child.stdin is not None
    child.stdin.close()
    return run_id


def test_a_killed_runs_record_is_found_lost_with_its_journals_points(
    catalog_url: str, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = _dying_writer(catalog_url, tmp_path, points=17)
    with caplog.at_level(logging.WARNING):
        found = Catalog(catalog_url).get(run_id[:8])
    assert (found.status, found.points) == ("lost", 17)
    assert "ended without recording the run's end" in (found.stopped_by or "")
    assert found.ended is not None
    assert f"run {run_id[:8]}" in caplog.text and "lost, 17 points" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert [r.status for r in Catalog(catalog_url).runs()] == ["lost"]
    assert caplog.text == ""  # reported once, when it was found


def test_a_run_that_wrote_its_end_line_but_died_before_the_catalog_heard_gets_that_end(
    tmp_path: pathlib.Path,
) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    record = iv_record(pid=_dead_pid())
    end = RunEnd("completed", points=5)
    path = write_journal(tmp_path, record, iv_rows(5), end)
    catalog.started(dataclasses.replace(record, data_file=str(path)))
    assert catalog.get(record.run_id).end == end


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


def test_only_this_hosts_dead_processes_make_runs_lost(tmp_path: pathlib.Path) -> None:
    """A live process keeps its run; another host's pids mean nothing here; a reused pid
    (a process that started after the run did) does not keep a dead run alive."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    alive = iv_record()  # this test's own process
    elsewhere = iv_record(host="another-host", pid=_dead_pid())
    reused = iv_record(pid=os.getpid(), started="2000-01-01T00:00:00+00:00")
    dead = iv_record(pid=_dead_pid())
    catalog.add([alive, elsewhere, reused, dead])
    status = {r.run_id: r.status for r in Catalog(catalog.url).runs()}
    assert status == {
        alive.run_id: "running",
        elsewhere.run_id: "running",
        reused.run_id: "lost",
        dead.run_id: "lost",
    }
    assert Catalog(catalog.url).get(dead.run_id).points == 0  # it kept no data file
    assert "no data file" in (Catalog(catalog.url).get(dead.run_id).stopped_by or "")


def test_two_processes_writing_200_runs_each_at_once_lose_nothing(catalog_url: str) -> None:
    Catalog(catalog_url).runs()  # the tables, before the writers race for the rows
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.catalog_writer", "write", catalog_url, "200"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    outputs = []
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        outputs.append(out.split())
    written = set(outputs[0]) | set(outputs[1])
    assert len(outputs[0]) == len(outputs[1]) == 200 and len(written) == 400
    runs = Catalog(catalog_url).runs()
    assert {r.run_id for r in runs} == written
    assert {r.status for r in runs} == {"completed"}
    assert sorted(r.points or 0 for r in runs) == sorted(list(range(200)) * 2)


def test_a_record_round_trips_through_json_and_names_its_parts() -> None:
    record = fet_record(tags=["a"])
    assert RunRecord.from_json(record.to_json()) == record
    assert record.short_id == record.run_id[:8] and len(record.short_id) == 8
    assert record.family == ("gate_source",) and record.status == "running" and record.end is None
    assert dt.datetime.fromisoformat(record.started).utcoffset() is not None
    assert record.pid == os.getpid() and record.software["labrun"]
    assert "status" not in record.start_part() and "tags" not in record.start_part()
    newer = {**record.to_dict(), "a_field_of_a_later_version": 1}
    assert RunRecord.from_dict(newer) == record
    with pytest.raises(ValueError, match="canonical form"):
        RunRecord.from_dict({**record.to_dict(), "run_id": record.run_id.upper()})
    with pytest.raises(ValueError, match="not 'running'"):
        RunEnd("running")
