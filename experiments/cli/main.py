"""The ``labrun`` command line: run or check a YAML config, list resources, one reading.

Exit status: 0 completed, 1 the instrument or the run failed (a busy instrument included:
nothing was touched), 2 bad input (nothing was touched), 3 stopped by a person (s + Enter,
``labrun runs stop``), 128 + the signal's number when
stopped by a signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT: output off, data
flushed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from labrun import __version__
from labrun.drivers import MODELS, LabrunError, identify_at, list_resources, open_sourcemeter
from labrun.experiments.cli import analyze as analyze_cli
from labrun.experiments.cli import panel as panel_cli
from labrun.experiments.cli import running
from labrun.experiments.cli import runs as runs_cli
from labrun.experiments.cli import sim as sim_cli
from labrun.experiments.cli.control import KEYS_HELP
from labrun.experiments.config import ConfigError
from labrun.experiments.config.schema import experiment_keys
from labrun.experiments.model.units import to_si

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.verbose:  # labrun's and pyvisa's traffic; not matplotlib's font search
        for name in ("labrun", "pyvisa"):
            logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"labrun: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (LabrunError, OSError) as error:  # an instrument, a disk, a file system: said in words
        print(f"labrun: {error}", file=sys.stderr)
        for note in getattr(error, "__notes__", ()):
            print(f"labrun: {note}", file=sys.stderr)
        return EXIT_FAILED


SET_HELP = (
    "override one config key, checked like the file: instrument.nplc=0.1, "
    "'instrument.measure_range=10 mA', experiment.sweep=hardware (repeatable)"
)

OVER_HELP = (
    "a sequence of runs: one per value of KEY (each read as --set reads one), checked before "
    "the first; several --over make a product, the first outermost (replaces the config's sequence.over)"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labrun", description="Drive lab source-meters, real or simulated.")
    p.add_argument("-v", "--verbose", action="store_true", help="log VISA traffic (DEBUG)")
    p.add_argument("--version", action="version", version=f"labrun {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    keys = f"experiment keys, by experiment.type (--set experiment.KEY=VALUE):\n{experiment_keys()}"
    formatter = argparse.RawDescriptionHelpFormatter
    run = sub.add_parser("run", help="run an experiment config", epilog=keys, formatter_class=formatter)
    run.add_argument("config")
    run.add_argument("--out", help="directory for the data file and plot (overrides save.directory)")
    run.add_argument("--sim", action="store_true", help="use a simulated instrument whatever the config says")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    run.add_argument("--live", action="store_true", help="plot the data in a window as they arrive")
    run.add_argument(
        "--interval", type=_seconds, default=0.2, help="seconds between live plot refreshes (default 0.2)"
    )
    reading = run.add_mutually_exclusive_group()
    reading.add_argument(
        "--keys", action="store_true", help=f"read keys from stdin even if not a terminal ({KEYS_HELP})"
    )
    reading.add_argument("--no-keys", action="store_true", help="do not read the terminal for keys")
    run.add_argument("--tag", action="append", default=[], help="a tag for the run's record (repeatable)")
    run.add_argument("--note", default="", help="a note for the run's record")
    run.add_argument(
        "--catalog", help="the catalog that keeps the run's record (a URL; default $LABRUN_CATALOG; 'none')"
    )
    run.add_argument("--over", action="append", default=[], metavar="KEY=V1,V2,...", help=OVER_HELP)
    run.set_defaults(handler=running.cmd_run)

    check = sub.add_parser(
        "check",
        help="validate a config and print the plan; touches no instrument",
        epilog=keys,
        formatter_class=formatter,
    )
    check.add_argument("config")
    check.add_argument("--out")
    check.add_argument("--sim", action="store_true")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    check.add_argument("--over", action="append", default=[], metavar="KEY=V1,V2,...", help=OVER_HELP)
    check.add_argument(
        "--probe",
        action="store_true",
        help="then ask each real instrument its *IDN? and refuse another model",
    )
    check.set_defaults(handler=running.cmd_check)

    analyze_cli.add_command(sub)

    res = sub.add_parser("resources", help="list VISA resources")
    res.add_argument("--sim", action="store_true", help="list the simulated bench")
    res.add_argument("--backend", default="", help="VISA library, e.g. @ivi or @py")
    res.add_argument("--no-identify", action="store_true", help="list addresses only; ask no *IDN?")
    res.set_defaults(handler=cmd_resources)

    meas = sub.add_parser("measure", help="source one voltage and take one reading")
    meas.add_argument("model", choices=sorted(MODELS))
    meas.add_argument("address")
    meas.add_argument("--voltage", type=_in("V"), default=1.0, help="volts, or with a unit: '100 mV'")
    meas.add_argument("--compliance", type=_in("A"), default=0.01, help="current limit in A, or '10 mA'")
    meas.add_argument("--sim", action="store_true")
    meas.add_argument("--backend", default="")
    meas.set_defaults(handler=cmd_measure)

    sim_cli.add_commands(sub)
    panel_cli.add_command(sub)
    runs_cli.add_command(sub)
    return p


def _in(unit: str) -> Callable[[str], float]:
    """An argparse type: a number in ``unit`` or a string with a unit, as in YAML."""

    def parse(text: str) -> float:
        try:
            return to_si(text, unit)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = f"quantity in {unit}"
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of seconds > 0")
    return value


def cmd_resources(args: argparse.Namespace) -> int:
    """Each address, and (unless ``--no-identify``) the model that answers there."""
    backend = "@labrun" if args.sim else args.backend
    found = list_resources(backend)
    for name in found:
        if args.no_identify:
            print(name)
            continue
        there = identify_at(name, backend)
        if there.model is not None:
            print(f"{name}  {there.model.name}  ({there.identity})")
        elif there.identity:
            print(f"{name}  not a model labrun drives  ({there.identity})")
        else:
            print(f"{name}  ? ({there.why_not})")
    if not found:
        print("no VISA resources found", file=sys.stderr)
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    with open_sourcemeter(args.model, args.address, sim=args.sim, backend=args.backend) as smu:
        print(smu.identify())
        smu.set_current_limit(args.compliance)
        smu.set_voltage(args.voltage)
        smu.output_on()
        reading = smu.measure()
        smu.shutdown()
    print(f"V = {reading.voltage:.6g} V   I = {reading.current:.6g} A")
    return 0


if __name__ == "__main__":
    sys.exit(main())
