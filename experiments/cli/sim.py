"""``labrun sim``: serve twins as network instruments, look at them, make them fail.

``serve`` runs in the foreground until SIGINT, SIGTERM or SIGHUP and then frees its
ports. ``status`` and ``fault`` talk to a running server's control port, never to the
instruments' own SCPI ports, so what they show is what the client left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import pathlib
import sys
import threading
from collections.abc import Mapping
from typing import Any

import yaml

from labrun.experiments.config import ConfigError, StationConfig, read_config
from labrun.experiments.config.yaml_reader import YamlRefused, read_yaml
from labrun.experiments.engine import exits
from labrun.sim_devices import default_bench
from labrun.sim_devices.backend import checked_bench, checked_circuits
from labrun.sim_devices.circuits import Circuit
from labrun.sim_devices.control import control_request
from labrun.sim_devices.faults import KINDS
from labrun.sim_devices.server import ServedBench

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


def add_commands(sub: Any) -> None:
    """Add ``labrun sim serve|status|fault`` to the CLI's subcommands."""
    sim = sub.add_parser("sim", help="simulated instruments as network (LAN) instruments")
    verbs = sim.add_subparsers(dest="sim_command", required=True)

    serve = verbs.add_parser(
        "serve",
        help="serve twins over TCP (raw SCPI, as LAN instruments on port 5025) until Ctrl-C",
        description="CONFIG: a bench file (instruments: [...]) or an experiment config (its "
        "instrument); default: the default simulated bench.",
    )
    serve.add_argument("config", nargs="?", help="bench file or experiment config")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=5025, help="first instrument's port, the next ones follow (0: any free)"
    )
    serve.add_argument("--control-port", type=_port, help="control port (default: after the last instrument)")
    serve.set_defaults(handler=cmd_serve)

    status = verbs.add_parser("status", help="what a served bench's instruments are doing now")
    status.add_argument("control_port", type=_port, help="the control port `sim serve` printed")
    status.add_argument("--host", default="127.0.0.1")
    status.add_argument("--instrument", type=_port, help="only the instrument on this port")
    status.add_argument("--json", action="store_true", help="the control port's JSON, as is")
    status.set_defaults(handler=cmd_status)

    fault = verbs.add_parser("fault", help="make a served instrument misbehave (or stop it: 'clear')")
    fault.add_argument("control_port", type=_port)
    fault.add_argument("instrument", type=_port, help="the instrument's port")
    fault.add_argument("kind", choices=(*KINDS, "clear"))
    fault.add_argument("--after", type=int, default=0, help="answers from now before it starts")
    fault.add_argument("--delay", type=float, default=0.5, help="seconds per answer, for 'slow'")
    fault.add_argument("--code", type=int, default=-300, help="error number, for 'error'")
    fault.add_argument("--host", default="127.0.0.1")
    fault.set_defaults(handler=cmd_fault)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a TCP port, 0 to 65535")
    return int(text)


def bench_entries(config: str | None) -> tuple[list[dict[str, Any]], list[Circuit]]:
    """The twins to serve, and the circuits between them: a bench file's, an experiment
    config's instrument, or a station config's instruments and circuit."""
    if config is None:
        return list(default_bench().values()), []
    path = pathlib.Path(config)
    try:  # the hardened reader of configs: no alias bombs, no megabytes
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlRefused, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    if isinstance(raw, dict) and "instruments" in raw:
        if not isinstance(raw["instruments"], list):
            raise ConfigError(f"{path}: expected a list under 'instruments'")
        try:
            bench = checked_bench(raw["instruments"], str(path))
            return list(bench.values()), checked_circuits(raw.get("circuits") or [], bench, str(path))
        except ValueError as error:
            raise ConfigError(str(error)) from None
    loaded = read_config(path, sim=True)
    if isinstance(loaded, StationConfig):
        entries, circuits = loaded.bench()
        bench = checked_bench(entries, str(path))
        return list(bench.values()), checked_circuits(circuits, bench, str(path))
    return [loaded.instrument.bench_entry()], []


def cmd_serve(args: argparse.Namespace) -> int:
    entries, circuits = bench_entries(args.config)
    logging.getLogger("labrun.sim_devices").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        bench = ServedBench(
            entries, host=args.host, port=args.port, control_port=args.control_port, circuits=circuits
        )
    except OSError as error:
        print(f"labrun: cannot listen on {args.host} from port {args.port}: {error}", file=sys.stderr)
        return EXIT_FAILED
    stop = threading.Event()
    with exits.on_signals(lambda signum: stop.set()), contextlib.ExitStack() as serving:
        serving.callback(bench.stop)
        bench.start()
        for instrument in bench.instruments:
            print(f"{instrument.model} {instrument.address}", flush=True)
        host, port = bench.control_address
        print(f"control {host}:{port}", flush=True)
        print("labrun: serving; Ctrl-C (SIGINT) or SIGTERM stops", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    print("labrun: stopped; ports freed", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    request: dict[str, Any] = {"op": "status"}
    if args.instrument is not None:
        request["port"] = args.instrument
    answer = _ask(args.host, args.control_port, request)
    if answer is None:
        return EXIT_FAILED
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    for instrument in answer["instruments"]:
        print(describe(instrument))
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    fault = None
    if args.kind != "clear":
        fault = {"kind": args.kind, "after": args.after, "delay": args.delay, "code": args.code}
    answer = _ask(args.host, args.control_port, {"op": "fault", "port": args.instrument, "fault": fault})
    if answer is None:
        return EXIT_FAILED
    print(describe(answer))
    return 0


def _ask(host: str, port: int, request: Mapping[str, Any]) -> Any:
    try:
        return control_request(host, port, request)
    except (OSError, ValueError) as error:
        print(f"labrun: control port {host}:{port}: {error}", file=sys.stderr)
        return None


def describe(instrument: Mapping[str, Any]) -> str:
    """One instrument's status as lines a person reads."""
    head = (
        f"{instrument['port']} {instrument['model']}  load {instrument['load']}  "
        f"messages {instrument['messages']}  clients {instrument['clients']}  "
        f"errors queued {instrument['errors_queued']}"
    )
    fault = instrument["fault"]
    if fault:
        head += f"  fault {fault['kind']} after {max(0, fault['after'])} more answers"
    lines = [head]
    for ch in instrument["channels"]:
        unit, limit_unit = ("V", "A") if ch["source"] == "voltage" else ("A", "V")
        state = "ON" if ch["output"] else "off"
        lines.append(
            f"  channel {ch['channel']}: output {state}  source {ch['source']} {ch['level']:g} {unit}"
            f"  limit {ch['limit']:g} {limit_unit}"
        )
    return "\n".join(lines)
