"""``labrun runs``: find past runs in the catalog, show one, export it, tag it, note it.

The catalog is ``--catalog URL``, else ``$LABRUN_CATALOG``, else the SQLite file in the
user's data directory. SQLAlchemy loads only when a ``runs`` command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import yaml

from labrun.experiments.cli import control
from labrun.experiments.cli.sequences import describe_sequence, sequence_named
from labrun.experiments.storage import RunRecord
from labrun.experiments.storage.export import FORMATS
from labrun.experiments.storage.record import STATUSES

if TYPE_CHECKING:
    from labrun.experiments.storage.catalog import Catalog, RunSummary

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2
CATALOG_HELP = "the catalog's SQLAlchemy URL (default: $LABRUN_CATALOG, else the user's data directory)"


def add_command(sub: Any) -> None:
    """Add ``labrun runs [show|export|tag|untag|note]`` to the CLI's subcommands."""
    runs = sub.add_parser(
        "runs",
        help="past runs: list (newest first), show, export, tag, note",
        description="Without a verb: the runs newest first (short id, start, experiment, "
        "instrument, status, points), filtered by the options.",
    )
    runs.add_argument("--catalog", metavar="URL", help=CATALOG_HELP)
    runs.add_argument("--experiment", help="only runs of this experiment (iv_sweep, fet_output, ...)")
    runs.add_argument("--instrument", help="only runs on this instrument: a model, name or address")
    runs.add_argument("--status", choices=STATUSES)
    runs.add_argument("--since", type=_since, help="a date (2026-12-01), a time, or an age: 2d, 3h, 30m, 1w")
    runs.add_argument("--tag", help="only runs with this tag")
    runs.add_argument("--sequence", help="only the runs of this sequence (its id or first hex digits)")
    runs.add_argument("--limit", type=_count, default=50, help="at most this many (default 50; 0: all)")
    runs.set_defaults(handler=cmd_runs)
    verbs = runs.add_subparsers(dest="runs_command", metavar="{show,export,tag,untag,note,pause,resume,stop}")

    def verb(name: str, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=help)
        parser.add_argument("--catalog", metavar="URL", default=argparse.SUPPRESS, help=CATALOG_HELP)
        parser.add_argument("id", help="a run's (or a sequence's) id, or its first hex digits (4 at least)")
        return parser

    show = verb("show", "a run's record: status, parameters, each instrument's snapshot, config")
    show.add_argument("--json", action="store_true", help="the record as JSON")
    show.set_defaults(handler=cmd_show)
    export = verb(
        "export", "write a run out: NetCDF (xarray, units), CSV (its journal, record included), JSON"
    )
    export.add_argument("--format", choices=FORMATS, default="netcdf")
    export.add_argument("--out", required=True, help="the file to write (never overwritten)")
    export.set_defaults(handler=cmd_export)
    tag = verb("tag", "add tags to a run")
    tag.add_argument("tags", nargs="+", metavar="TAG")
    tag.set_defaults(handler=cmd_tag)
    untag = verb("untag", "take tags off a run")
    untag.add_argument("tags", nargs="+", metavar="TAG")
    untag.set_defaults(handler=cmd_tag)
    note = verb("note", "set a run's note (free text; replaces the one it had)")
    note.add_argument("text", nargs="+")
    note.set_defaults(handler=cmd_note)
    control.add_verbs(verb, cmd_control)


def _since(text: str) -> str:
    from labrun.experiments.storage.catalog.when import since_epoch

    try:
        since_epoch(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 0")
    return int(text)


def _open(args: argparse.Namespace) -> Catalog:
    from labrun.experiments.storage.catalog import Catalog

    return Catalog(args.catalog)


def _handled(command: Any) -> Any:
    """The catalog's own failures in words, with the exit status the CLI uses."""

    def run(args: argparse.Namespace) -> int:
        import sqlalchemy

        from labrun.experiments.storage.catalog import RunNotFound

        try:
            return int(command(args))
        except (RunNotFound, ValueError) as error:
            print(f"labrun: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except sqlalchemy.exc.SQLAlchemyError as error:
            print(
                f"labrun: the catalog {args.catalog or '(default)'}: {error.__class__.__name__}: "
                f"{getattr(error, 'orig', None) or error}",
                file=sys.stderr,
            )
            return EXIT_FAILED

    run.__name__ = command.__name__
    return run


@_handled
def cmd_runs(args: argparse.Namespace) -> int:
    with _open(args) as catalog:
        sequence = catalog.resolve_sequence(args.sequence) if args.sequence else None
        found = catalog.summaries(
            experiment=args.experiment,
            instrument=args.instrument,
            status=args.status,
            since=args.since,
            tag=args.tag,
            sequence=sequence,
            limit=args.limit or None,
        )
        if not found:
            print(f"no runs{' like that' if _filtered(args) else ''} in {catalog.url}", file=sys.stderr)
            return 0
        print(table(found))
        if args.limit and len(found) == args.limit:
            print(f"(the newest {args.limit}: --limit N for more, 0 for all)", file=sys.stderr)
    return 0


def _filtered(args: argparse.Namespace) -> bool:
    return any(getattr(args, k) for k in ("experiment", "instrument", "status", "since", "tag", "sequence"))


def table(runs: list[RunSummary]) -> str:
    """One line a run: short id, start, experiment, instrument, status, points (and tags)."""
    rows = [("id", "started", "experiment", "instrument", "status", "points", "tags")]
    for r in runs:
        more = f" +{r.instruments - 1}" if r.instruments > 1 else ""
        started = r.started[:19].replace("T", " ")
        points = "" if r.points is None else str(r.points)
        rows.append(
            (
                r.short_id,
                started,
                r.experiment,
                (r.instrument or "-") + more,
                r.status,
                points,
                ", ".join(r.tags),
            )
        )
    width = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)).rstrip() for row in rows)


@_handled
def cmd_show(args: argparse.Namespace) -> int:
    from labrun.experiments.storage.sequences import sequence_runs

    with _open(args) as catalog:
        if (sequence := sequence_named(catalog, args.id)) is not None:
            print(describe_sequence(sequence_runs(sequence, catalog), as_json=args.json))
            return 0
        record = catalog.get(args.id)
    print(record.to_json(indent=1) if args.json else describe(record))
    return 0


def describe(r: RunRecord) -> str:
    """The record as a person reads it: the run, how it ended, then its parts."""
    ended: str = r.status
    if r.stopped_by:
        ended += f" ({'by ' if r.status == 'stopped' else ''}{r.stopped_by})"
    if r.error:
        ended += f": {r.error.get('type')}: {r.error.get('message')}"
    lines = [
        f"run {r.run_id}  ({r.short_id})",
        f"experiment: {r.experiment}",
        f"status:     {ended}",
        f"started:    {r.started}",
        f"ended:      {r.ended or '-'}",
        f"points:     {'-' if r.points is None else r.points}",
        f"data file:  {r.data_file or '-'}",
        f"where:      {r.user}@{r.host}, pid {r.pid}",
        f"software:   {', '.join(f'{k} {v}' for k, v in r.software.items())}",
    ]
    if r.tags:
        lines.append(f"tags:       {', '.join(r.tags)}")
    if r.note:
        lines.append(f"note:       {r.note}")
    if r.sequence:
        lines.append(f"sequence:   {json.dumps(r.sequence)}")
    units = ", ".join(f"{n} [{u}]" if u else n for n, u in r.columns.items())
    lines.append(f"columns:    {units}")
    lines += _block("parameters", r.parameters)
    for snapshot in r.instruments:
        lines.append(f"instrument ({snapshot.get('role') or 'instrument'}): {_which(snapshot)}")
        head = ("role", "model", "name", "address", "channel", "backend")
        rest = {k: v for k, v in snapshot.items() if k not in head and v not in (None, {}, "")}
        if isinstance(rest.get("settings"), dict) and isinstance(units := rest.pop("units", None), dict):
            rest["settings"] = {
                k: f"{v} {units[k]}" if units.get(k) else v for k, v in rest["settings"].items()
            }
        lines += ["  " + line for line in _block("", rest)[1:]]
    if r.config:
        lines += _block("config (resolved)", r.config.get("resolved"))
    return "\n".join(lines)


def _which(snapshot: dict[str, Any]) -> str:
    """``model 'name' at address, channel 2 (backend)``: the parts it has."""
    text = str(snapshot.get("model") or "?")
    if snapshot.get("name"):
        text += f" {snapshot['name']!r}"
    if snapshot.get("address"):
        text += f" at {snapshot['address']}"
    if snapshot.get("channel") is not None:
        text += f", channel {snapshot['channel']}"
    return text + (f" ({snapshot['backend']})" if snapshot.get("backend") else "")


def _block(title: str, value: Any) -> list[str]:
    if value in (None, {}, []):
        return []
    text = yaml.safe_dump(
        json.loads(json.dumps(value, default=str)),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None,
    )
    return [f"{title}:", *("  " + line for line in text.rstrip("\n").splitlines())]


@_handled
def cmd_export(args: argparse.Namespace) -> int:
    from labrun.experiments.storage.export import export_run
    from labrun.experiments.storage.sequences import export_sequence

    with _open(args) as catalog:
        if (sequence := sequence_named(catalog, args.id)) is not None:
            path = export_sequence(sequence, args.format, out=args.out, catalog=catalog)
        else:
            path = export_run(args.id, args.format, out=args.out, catalog=catalog)
    print(f"exported: {path}")
    return 0


@_handled
def cmd_tag(args: argparse.Namespace) -> int:
    """``tag`` and ``untag``."""
    with _open(args) as catalog:
        change = catalog.tag if args.runs_command == "tag" else catalog.untag
        record = change(args.id, *args.tags)
    print(f"{record.short_id}: tags {', '.join(record.tags) or '(none)'}")
    return 0


@_handled
def cmd_note(args: argparse.Namespace) -> int:
    with _open(args) as catalog:
        record = catalog.set_note(args.id, " ".join(args.text))
    print(f"{record.short_id}: note {record.note!r}")
    return 0


@_handled
def cmd_control(args: argparse.Namespace) -> int:
    """``pause``, ``resume``, ``stop``: asked of a run of this host (``control.py``)."""
    with _open(args) as catalog:
        return control.cmd_control(args, catalog)
