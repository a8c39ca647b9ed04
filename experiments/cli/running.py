"""``labrun run`` and ``labrun check``: a config's run, or each run of its sequence.

Why one loop for both: a config without a ``sequence:`` block is a sequence of one run, so
a run and a sequence's step take the same path (the launcher: instruments locked, opened,
set; the run; instruments closed, outputs off), and a sequence is output-safe between its
steps because each step closes what it opened before the next opens anything.

A signal (Ctrl-C, SIGTERM, ...) stops the run going on and no further step starts (exit
128 + the signal); so does a stop asked by a person (s + Enter, ``labrun runs stop``:
exit 3). A failed step stops the sequence (``on_error: stop``) or not (``continue``); the
exit status is 1 if any step failed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

from tqdm.contrib.logging import logging_redirect_tqdm

from labrun.drivers import MODELS, identify_at
from labrun.experiments.cli.control import KEYS_HELP, Keys, keys_wanted
from labrun.experiments.config import Config, StationConfig
from labrun.experiments.config.launch import instruments_of, launch
from labrun.experiments.config.loading import as_given
from labrun.experiments.config.plan import sequence_plan
from labrun.experiments.config.sequence import Step, Steps, read_steps
from labrun.experiments.engine import RecordOptions
from labrun.experiments.engine.exits import Interrupts
from labrun.experiments.views.live import LivePlot, follow, window_open

#: the exit status of a run stopped by a person (s + Enter, labrun runs stop), not a signal
EXIT_STOPPED = 3


def read(args: argparse.Namespace) -> Steps:
    """The runs the command line asks for, every one checked (ConfigError, exit 2)."""
    return read_steps(
        args.config, out=args.out, sim=True if args.sim else None, overrides=args.set, over=args.over
    )


def cmd_check(args: argparse.Namespace) -> int:
    steps = read(args)
    print(f"{args.config}: OK")
    for line in sequence_plan(steps):
        print(f"  {line}")
    return probe(steps.steps[0].config) if args.probe else 0


def probe(config: Config | StationConfig) -> int:
    """``check --probe``: ask each real instrument of the config who it is (a twin is the
    config's model by construction); 1 if one is another model than its driver takes."""
    refused = 0
    for inst in {i.address: i for i, _ in instruments_of(config) if not i.sim}.values():
        there = identify_at(inst.address, inst.backend, timeout=min(inst.timeout, 2.0))
        named = there.model.name if there.model is not None else "not a model labrun drives"
        if not there.identity:
            print(f"  {inst.address}: nothing asked ({there.why_not})")
        elif inst.force_model or re.search(MODELS[inst.model].identity_pattern, there.identity):
            print(f"  {inst.address}: {named} ({there.identity}): the {inst.model} driver takes it")
        else:
            refused += 1
            print(
                f"labrun: {inst.address} answers {named} ({there.identity}): not a {inst.model}; "
                "pick that model, or instrument.force_model: true if it speaks the same commands",
                file=sys.stderr,
            )
    return 1 if refused else 0


def cmd_run(args: argparse.Namespace) -> int:
    steps = read(args)
    overrides = [*args.set, *([f"save.directory={args.out}"] if args.out else [])]
    overrides += ["sim=true"] if args.sim else []
    given = as_given(args.config, [*overrides, *(f"--over {o}" for o in args.over)])
    window: LivePlot | None = None
    made, failed, stopped_by = 0, [], ""
    with Interrupts() as interrupts:
        if steps.is_sequence:
            say(f"sequence: {steps.id} ({len(steps)} runs, on_error: {steps.on_error})")
        for step in steps.steps:
            if interrupts.signal:
                break
            if steps.is_sequence:
                say(f"sequence {step.index + 1}/{len(steps)}: {step.label()}")
            made += 1
            try:
                window, stopped = run_step(args, steps, step, given, interrupts)
                if stopped and not interrupts.signal:  # by a person (s + Enter, runs stop, ...)
                    stopped_by = stopped
                    break
            except Exception as error:
                if not steps.is_sequence:
                    raise  # one run: its error as before (main says it, exit 1)
                tell(error, f"step {step.index + 1} of {len(steps)} failed")
                failed.append(step.index)
                if steps.on_error == "stop":
                    break
    if steps.is_sequence:
        summarize(steps, made, failed, interrupts.signal)
    if interrupts.signal:
        print(f"labrun: stopped by {interrupts.signal}; output off, data flushed", file=sys.stderr)
        return 128 + interrupts.signum
    if stopped_by:
        print(f"labrun: stopped by {stopped_by}; output off, data flushed", file=sys.stderr)
        return EXIT_STOPPED
    if window is not None and window_open(window):
        import matplotlib.pyplot as plt

        print("close the plot window to finish", file=sys.stderr)
        plt.show()  # the final state, instrument already closed
    return 1 if failed else 0


def run_step(
    args: argparse.Namespace, steps: Steps, step: Step, given: dict[str, Any], interrupts: Interrupts
) -> tuple[LivePlot | None, str]:
    """One run through the launcher, followed to its end; raises its error. A signal
    while its instruments open means nothing runs. Returns its window, and who stopped
    the run if it was stopped ("" if it completed)."""
    config: Config | StationConfig = step.config
    record = RecordOptions(
        catalog=args.catalog, tags=tuple(args.tag), note=args.note, sequence=steps.record(step)
    )
    window = None
    with launch(config, owner=f"labrun run {args.config}", given=given) as launched:
        run = None if interrupts.signal else launched.start(record)
        if run is not None:
            interrupts.on_signal = run.stop
            if interrupts.signal:  # arrived while the run was starting
                run.stop(interrupts.signal)
            if not args.no_keys and keys_wanted(forced=args.keys):
                Keys(run)
                if sys.stdin.isatty():
                    print(f"labrun: {KEYS_HELP}; Ctrl-C stops", file=sys.stderr)
            with logging_redirect_tqdm():  # log lines and warnings above the progress bar
                window = follow(
                    run,
                    interval=args.interval,
                    progress=not args.no_progress,
                    live=args.live,
                    step_of=steps.position(step),
                )
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
    stopped = run is not None and run.progress.state == "stopped"
    return window, (run.stop_reason or "run.stop()") if stopped and run is not None else ""


def tell(error: BaseException, what: str) -> None:
    """A step's error in words on stderr, its notes after it."""
    print(f"labrun: {what}: {error}", file=sys.stderr)
    for note in getattr(error, "__notes__", ()):
        print(f"labrun: {note}", file=sys.stderr)


def summarize(steps: Steps, made: int, failed: list[int], signal: str) -> None:
    """How the sequence went, in one line, and how to find its runs."""
    parts = [f"{made} of {len(steps)} runs made"]
    if failed:
        parts.append(f"{len(failed)} failed ({', '.join(f'step {i + 1}' for i in failed)})")
    if signal:
        parts.append(f"stopped by {signal}: no further step started")
    elif made < len(steps):
        parts.append("the rest not started (on_error: stop)")
    say(f"sequence: {steps.id}: {', '.join(parts)}; labrun runs --sequence {steps.id[:8]}")


def say(line: str) -> None:
    """Print to stdout; a reader that went away (``| head -0``) does not fail a finished sweep."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to it
