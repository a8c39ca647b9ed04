"""The ``labrun`` command line: run or check a YAML config, list resources, one reading.

Exit status: 0 done, 1 the instrument or the run failed, 2 bad input (nothing was
touched), 130 stopped with Ctrl-C (output off, data flushed).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from labrun.drivers import MODELS, LabrunError, list_resources, open_sourcemeter

from .config import ConfigError, load_config, plan
from .launch import build_sweep, open_instrument, save_plot
from .runner import Run, start

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"labrun: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LabrunError as error:
        print(f"labrun: {error}", file=sys.stderr)
        for note in getattr(error, "__notes__", ()):
            print(f"labrun: {note}", file=sys.stderr)
        return EXIT_FAILED


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labrun", description="Drive lab source-meters, real or simulated.")
    p.add_argument("-v", "--verbose", action="store_true", help="log VISA traffic (DEBUG)")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment config")
    run.add_argument("config")
    run.add_argument("--out", help="directory for the data file and plot (overrides save.directory)")
    run.add_argument("--sim", action="store_true", help="use a simulated instrument whatever the config says")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(handler=cmd_run)

    check = sub.add_parser("check", help="validate a config and print the plan; touches no instrument")
    check.add_argument("config")
    check.add_argument("--out")
    check.add_argument("--sim", action="store_true")
    check.set_defaults(handler=cmd_check)

    res = sub.add_parser("resources", help="list VISA resources")
    res.add_argument("--sim", action="store_true", help="list the simulated bench")
    res.add_argument("--backend", default="", help="VISA library, e.g. @ivi or @py")
    res.set_defaults(handler=cmd_resources)

    meas = sub.add_parser("measure", help="source one voltage and take one reading")
    meas.add_argument("model", choices=sorted(MODELS))
    meas.add_argument("address")
    meas.add_argument("--voltage", type=float, default=1.0, help="volts")
    meas.add_argument("--compliance", type=float, default=0.01, help="current limit in A")
    meas.add_argument("--sim", action="store_true")
    meas.add_argument("--backend", default="")
    meas.set_defaults(handler=cmd_measure)
    return p


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config, out=args.out, sim=True if args.sim else None)
    print(f"{args.config}: OK")
    for line in plan(config):
        print(f"  {line}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config = load_config(args.config, out=args.out, sim=True if args.sim else None)
    with open_instrument(config.instrument) as smu:
        sweep = build_sweep(config, smu)
        run = start(sweep)
        interrupted = follow(run, show_progress=not args.no_progress)
        data_path = sweep.data_file.path if sweep.data_file else None
        if data_path:
            print(f"data: {data_path} ({len(sweep.table)} points)")
        if config.save.plot:
            png = save_plot(sweep)
            if png:
                print(f"plot: {png}")
    if interrupted:
        print("labrun: stopped by Ctrl-C; output off, data flushed", file=sys.stderr)
        return EXIT_INTERRUPTED
    run.result()  # re-raises the sweep's error: exit 1 with its message
    return 0


def follow(run: Run, *, show_progress: bool) -> bool:
    """Show progress until the run ends; Ctrl-C stops it. True if interrupted.

    Ctrl-C only asks the run to stop: the sweep's own thread ramps down and turns the
    output off. Further Ctrl-Cs are acknowledged, never allowed to abandon that.
    """
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            print("\nlabrun: still turning the output off, please wait", file=sys.stderr)
        interrupted.set()
        run.stop()

    previous = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
    try:
        bar = _progress_bar(run, show_progress)
        shown = 0
        while not run.wait(0.1):
            step = run.progress.step
            if bar is not None and step > shown:
                bar.update(step - shown)
                shown = step
        if bar is not None:
            bar.update(run.progress.step - shown)
            bar.close()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return interrupted.is_set()


def _progress_bar(run: Run, show: bool):  # type: ignore[no-untyped-def]
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=run.progress.total, unit="pt", desc=run.experiment.name, file=sys.stderr)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


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
