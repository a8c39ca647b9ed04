"""The served twin's round trip against the network stack's own floor.

Both servers run in processes of their own, as on a bench: ``labrun sim serve`` and a
bare TCP server that answers each line at once with the same bytes. The client is
pyvisa-py (``@py``) in this process, the same for both, and the two are timed in
alternating rounds so that drift on a shared machine hits both alike.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pyvisa

from .result import Result

IDN = b"KEITHLEY INSTRUMENTS INC.,MODEL 2400,4108524,C32   Oct  4 2010 14:20:11/A02  /S/K\n"

#: the floor: accept, and answer every line at once, nothing parsed
BARE_SERVER = f"""
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(65536):
        conn.sendall({IDN!r} * data.count(b"\\n"))
    conn.close()
"""


@contextlib.contextmanager
def _process(args: list[str], cpus: set[int]) -> Iterator[str]:
    """A server process on ``cpus``; yields its first line of output (the port or address)."""
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def _pinned(cpus: set[int]) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _open(rm: pyvisa.ResourceManager, address: str) -> Any:
    return rm.open_resource(address, read_termination="\n", write_termination="\n", timeout=5000)


def _per_query(resource: Any, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        resource.query("*IDN?")
    return (time.perf_counter() - t) / n


def _round_trips(n: int, rounds: int, client: set[int], servers: set[int]) -> list[tuple[float, float]]:
    """(bare, served) seconds per query, per round, with each side pinned to its CPUs."""
    serve = [sys.executable, "-m", "labrun.experiments.cli", "sim", "serve", "--port", "0"]
    with (
        _pinned(client),
        _process(serve, servers) as line,
        _process([sys.executable, "-c", BARE_SERVER], servers) as port,
    ):
        twin_address = line.split()[1]  # the first instrument: the 2400
        rm = pyvisa.ResourceManager("@py")
        twin, bare = _open(rm, twin_address), _open(rm, f"TCPIP0::127.0.0.1::{port}::SOCKET")
        assert twin.query("*IDN?").encode() + b"\n" == IDN == bare.query("*IDN?").encode() + b"\n"
        pairs = [(_per_query(bare, n), _per_query(twin, n)) for _ in range(rounds)]
        rm.close()
    return pairs


def served_round_trip(quick: bool) -> list[Result]:
    """`*IDN?` through pyvisa-py: the served 2400 twin vs a bare TCP server (median of rounds).

    Pinned, because the scheduler's placement alone moves a loopback round trip between
    about 15 and 70 µs on this machine: client and servers on one core (no cross-core
    wake-up: the CPU cost), and on two cores (a wake-up per message: the latency).
    """
    n, rounds = (200, 3) if quick else (2000, 7)
    results = []
    cpus = sorted(os.sched_getaffinity(0))
    placements = {"one core": ({cpus[0]}, {cpus[0]})}
    if len(cpus) > 1:
        placements["client and server on two cores"] = ({cpus[0]}, {cpus[1]})
    for placement, (client, servers) in placements.items():
        pairs = _round_trips(n, rounds, client, servers)
        ratios = sorted(ours / base for base, ours in pairs)
        base = statistics.median(p[0] for p in pairs)
        ours = statistics.median(p[1] for p in pairs)
        results.append(
            Result(
                f"served twin `*IDN?` round trip, pyvisa-py over loopback, {placement}",
                ours * 1e6,
                base * 1e6,
                "µs",
                "bare TCP server answering at once",
                "≤ 1.5×",
                ours / base <= 1.5,
                note=f"ratio per round {ratios[0]:.2f}–{ratios[-1]:.2f}",
            )
        )
    return results


CASES = {"served": served_round_trip}
