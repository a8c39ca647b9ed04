"""The served bench's control port: the simulated world seen from outside the instruments.

JSON lines, one request and one answer each: ``{"op": "status"}`` (or with ``"port"``),
``{"op": "log", "port": P, "last": N}``, ``{"op": "fault", "port": P, "fault": {...} | null}``.
``labrun sim status`` / ``fault`` and the tests speak it through :func:`control_request`.
"""

from __future__ import annotations

import json
import socket
import socketserver
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .served import ServedInstrument

CHUNK = 1 << 16


class Served(Protocol):
    """What the control port needs of a served bench (``server.ServedBench`` is one)."""

    @property
    def instruments(self) -> Sequence[ServedInstrument]: ...

    def instrument(self, port: int) -> ServedInstrument: ...


def answer(bench: Served, request: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to one control request."""
    op = request.get("op")
    if op == "status":
        chosen = [bench.instrument(int(request["port"]))] if "port" in request else bench.instruments
        return {"instruments": [i.status() for i in chosen]}
    if op == "log":  # the last messages received, oldest first (as many as the twin keeps)
        instrument = bench.instrument(int(request["port"]))
        with instrument.lock:
            log = instrument.twin.log[-int(request.get("last", 50)) :]
        return {"messages": [m.decode("latin-1") for m in log]}
    if op == "fault":
        instrument = bench.instrument(int(request["port"]))
        instrument.inject(request.get("fault"))
        return instrument.status()
    raise ValueError(f"unknown op {op!r}; known: status, log, fault")


class _ControlSession(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        while line := self.rfile.readline(CHUNK):
            try:
                reply = answer(self.server.bench, json.loads(line))
            except (ValueError, TypeError, KeyError) as error:
                reply = {"error": str(error)}
            self.wfile.write(json.dumps(reply).encode() + b"\n")


class ControlServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, bench: Served, host: str, port: int) -> None:
        self.bench = bench
        super().__init__((host, port), _ControlSession)


def control_request(host: str, port: int, request: Mapping[str, Any], *, timeout: float = 5.0) -> Any:
    """One request to a served bench's control port; its JSON answer (errors raise ValueError)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(json.dumps(dict(request)).encode() + b"\n")
        with sock.makefile("rb") as reply:
            result = json.loads(reply.readline())
    if isinstance(result, dict) and "error" in result:
        raise ValueError(result["error"])
    return result
