"""The ``labrun`` command line: run or check a YAML config, list resources, one reading.

Exit status: 0 done, 1 the instrument or the run failed (a busy instrument included:
nothing was touched), 2 bad input (nothing was touched), 128 + the signal's number when
stopped by a signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT: output off, data
flushed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from tqdm.contrib.logging import logging_redirect_tqdm

from labrun import __version__
from labrun.drivers import MODELS, LabrunError, list_resources, open_sourcemeter
from labrun.experiments.cli import analyze as analyze_cli
from labrun.experiments.cli import panel as panel_cli
from labrun.experiments.cli import runs as runs_cli
from labrun.experiments.cli import sim as sim_cli
from labrun.experiments.cli.control import KEYS_HELP, Keys
from labrun.experiments.config import ConfigError, plan, read_config
from labrun.experiments.config.launch import launch
from labrun.experiments.config.loading import as_given
from labrun.experiments.config.plan import station_plan
from labrun.experiments.config.schema import experiment_keys
from labrun.experiments.config.station import StationConfig
from labrun.experiments.engine import RecordOptions
from labrun.experiments.engine.exits import Interrupts
from labrun.experiments.model.units import to_si
from labrun.experiments.views.live import follow, window_open

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
    run.add_argument("--no-keys", action="store_true", help=f"do not read the terminal ({KEYS_HELP})")
    run.add_argument("--tag", action="append", default=[], help="a tag for the run's record (repeatable)")
    run.add_argument("--note", default="", help="a note for the run's record")
    run.add_argument(
        "--catalog", help="the catalog that keeps the run's record (a URL; default $LABRUN_CATALOG; 'none')"
    )
    run.set_defaults(handler=cmd_run)

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
    check.set_defaults(handler=cmd_check)

    analyze_cli.add_command(sub)

    res = sub.add_parser("resources", help="list VISA resources")
    res.add_argument("--sim", action="store_true", help="list the simulated bench")
    res.add_argument("--backend", default="", help="VISA library, e.g. @ivi or @py")
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


def cmd_check(args: argparse.Namespace) -> int:
    config = read_config(args.config, out=args.out, sim=True if args.sim else None, overrides=args.set)
    print(f"{args.config}: OK")
    for line in station_plan(config) if isinstance(config, StationConfig) else plan(config):
        print(f"  {line}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config = read_config(args.config, out=args.out, sim=True if args.sim else None, overrides=args.set)
    window = None
    overrides = [*args.set, *([f"save.directory={args.out}"] if args.out else [])]
    overrides += ["sim=true"] if args.sim else []
    given = as_given(args.config, overrides)
    record = RecordOptions(catalog=args.catalog, tags=tuple(args.tag), note=args.note)
    with (
        Interrupts() as interrupts,
        launch(config, owner=f"labrun run {args.config}", given=given) as launched,
    ):
        # a signal while opening: nothing runs
        run = None if interrupts.signal else launched.start(record)
        if run is not None:
            interrupts.on_signal = run.stop
            if interrupts.signal:  # arrived while the run was starting
                run.stop(interrupts.signal)
            if not args.no_keys:
                Keys(run)
                if sys.stdin.isatty():
                    print(f"labrun: {KEYS_HELP}; Ctrl-C stops", file=sys.stderr)
            with logging_redirect_tqdm():  # log lines and warnings above the progress bar
                window = follow(run, interval=args.interval, progress=not args.no_progress, live=args.live)
        if run is not None:
            say(f"run: {run.short_id} ({run.run_id})")
        data_file = launched.experiment.data_file
        if data_file is not None:
            path, rows = data_file.path, data_file.rows
            say(
                f"data: {path} ({rows} points)"
                if path.exists()
                else f"data: {path} is gone ({rows} rows were written)"
            )
        try:
            if png := launched.save_plot():
                say(f"plot: {png}")
        except OSError as error:  # a full disk: the sweep's own error matters more
            print(f"labrun: plot not written: {error.strerror or error}", file=sys.stderr)
        if run is not None:
            run.result()  # the sweep's own error (a failed shutdown included): exit 1
    if interrupts.signal:
        print(f"labrun: stopped by {interrupts.signal}; output off, data flushed", file=sys.stderr)
        return 128 + interrupts.signum
    if window is not None and window_open(window):
        import matplotlib.pyplot as plt

        print("close the plot window to finish", file=sys.stderr)
        plt.show()  # the final state, instrument already closed
    return 0


def say(line: str) -> None:
    """Print to stdout; a reader that went away (``| head -0``) does not fail a finished sweep."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to it


def cmd_resources(args: argparse.Namespace) -> int:
    found = list_resources("@labrun" if args.sim else args.backend)
    for name in found:
        print(name)
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
