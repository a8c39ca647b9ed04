"""Twins served as LAN instruments: raw SCPI over TCP, one port per instrument.

Why a process of its own: a real instrument outlives the program that drives it,
keeps its output on when that program dies, and is reached by any language. A served
twin does the same, so "what did the script leave behind?" is asked of an instrument
that is still there. The protocol is what LAN source-meters serve on port 5025:
newline-terminated program messages, one response message per message with queries.

Each instrument's port is a :mod:`socketserver` server serving a
:class:`~.served.ServedInstrument`; a small control port (JSON lines, ``control.py``)
shows the simulated world from outside the instrument's SCPI and injects faults.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyvisa import rname

from .backend import build_twin
from .circuits import Circuit
from .control import CHUNK, ControlServer
from .served import ServedInstrument

logger = logging.getLogger(__name__)

#: bytes a program message may hold before the input buffer overruns (SCPI -363)
MAX_MESSAGE = 1 << 20
#: a served twin keeps this many recent messages in ``twin.log`` (memory stays bounded)
LOG_LIMIT = 1000


class _Session(socketserver.BaseRequestHandler):
    """One client connection: split the byte stream into messages, answer each."""

    server: _InstrumentServer

    def setup(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # a client that vanished without closing (cable, crash of its host) is noticed
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)

    def handle(self) -> None:
        instrument = self.server.instrument
        sock: socket.socket = self.request
        peer = "{}:{}".format(*self.client_address[:2])
        logger.info("%s: client %s connected", instrument.address, peer)
        end = instrument.twin._query_eom or b"\n"
        buffer = bytearray()
        skipping = False  # the rest of an overrun message is discarded up to its end
        try:
            while chunk := sock.recv(CHUNK):
                if end not in chunk:  # part of a message: keep it, within bounds
                    buffer += chunk
                    if len(buffer) > MAX_MESSAGE:
                        if not skipping:
                            logger.warning(
                                "%s: client %s sent over %d bytes without a terminator: discarded (-363)",
                                instrument.address,
                                peer,
                                MAX_MESSAGE,
                            )
                            instrument.overrun()
                        skipping = True
                        buffer.clear()
                    continue
                if buffer:
                    chunk = bytes(buffer + chunk)
                    buffer.clear()
                *messages, rest = chunk.split(end)
                buffer += rest
                for message in messages:
                    if skipping:  # the end of an overrun message
                        skipping = False
                    elif not self._answer(message.rstrip(b"\r")):  # CR before LF is white space
                        return
        except OSError as error:
            logger.info("%s: client %s: %s", instrument.address, peer, error)
        finally:
            logger.info("%s: client %s disconnected", instrument.address, peer)

    def _answer(self, message: bytes) -> bool:
        done = self.server.instrument.execute(message)
        if done is None:
            return False
        answer, ready_at = done
        if answer:
            if ready_at and (wait := ready_at - time.monotonic()) > 0 and self.server.stopping.wait(wait):
                return False
            self.request.sendall(answer)
        return True


class _InstrumentServer(socketserver.TCPServer):
    """A port that serves one twin; at most ``limit`` clients are served at once.

    With a limit of one (a gateway in front of an instrument without LAN), the next
    client is accepted by the kernel but not served until the first has gone.
    """

    allow_reuse_address = True
    # socketserver's default of 5 drops the SYNs of quick reconnects: each then waits 1 s
    request_queue_size = 128

    def __init__(self, instrument: ServedInstrument, stopping: threading.Event) -> None:
        self.instrument = instrument
        self.stopping = stopping
        self.limit = instrument.twin.LAN_SESSIONS
        super().__init__((instrument.host, instrument.port), _Session)
        instrument.port = self.server_address[1]
        instrument.twin.resource_name = instrument.address

    def process_request(self, request: Any, client_address: Any) -> None:
        instrument = self.instrument
        instrument.connections += 1
        if self.stopping.is_set():
            self.shutdown_request(request)
            return
        if self.limit == 1:  # serve it here: the accept loop waits, so the next one queues
            self._serve(request, client_address)
            return
        if len(instrument.clients) >= self.limit:
            logger.warning(
                "%s: %d clients already connected: refusing %s",
                instrument.address,
                self.limit,
                client_address,
            )
            self.shutdown_request(request)
            return
        threading.Thread(target=self._serve, args=(request, client_address), daemon=True).start()

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        instrument = self.instrument
        with instrument.lock:  # added before stopping is read: stop() sees it or it sees stop
            instrument.clients.add(request)
        try:
            if not self.stopping.is_set():
                self.finish_request(request, client_address)
        except Exception:
            logger.exception("%s: session with %s failed", instrument.address, client_address)
        finally:
            with instrument.lock:
                instrument.clients.discard(request)
            self.shutdown_request(request)


class ServedBench:
    """A bench of twins served on consecutive ports from ``port`` (0: any free ports).

    ``entries`` are bench entries (``model``, ``load``, ``noise``, ``fault``, ...), as in
    a bench file; ``circuits`` are wired to the entries' own addresses (as the bench file
    names them, whatever port serves them). The control port follows the last
    instrument's (or ``control_port``).
    """

    def __init__(
        self,
        entries: Iterable[Mapping[str, Any]],
        *,
        host: str = "127.0.0.1",
        port: int = 5025,
        control_port: int | None = None,
        circuits: Sequence[Circuit] = (),
    ) -> None:
        self.host = host
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.servers: list[_InstrumentServer] = []
        self.instruments: list[ServedInstrument] = []
        try:
            for i, entry in enumerate(entries):
                wanted = port + i if port else 0
                twin = build_twin(entry["model"], f"TCPIP0::{host}::{wanted}::SOCKET", entry)
                twin.log_limit = LOG_LIMIT
                if "address" in entry:
                    for circuit in circuits:
                        circuit.attach(rname.to_canonical_name(str(entry["address"])), twin)
                instrument = ServedInstrument(entry["model"], twin, host, wanted)
                self.servers.append(_InstrumentServer(instrument, self.stopping))
                self.instruments.append(instrument)
            if control_port is None:
                control_port = port + len(self.instruments) if port else 0
            self.control_server = ControlServer(self, host, control_port)
        except BaseException:
            self._close_all()
            raise

    @property
    def control_address(self) -> tuple[str, int]:
        return self.host, self.control_server.server_address[1]

    def start(self) -> ServedBench:
        """Serve in background threads; returns at once."""
        for server in (*self.servers, self.control_server):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop accepting, end every connection, free the ports."""
        self.stopping.set()  # sessions that start from now on end at once
        for instrument in self.instruments:  # end the live ones (a one-client port serves in its loop)
            with instrument.lock:
                clients = list(instrument.clients)
            for client in clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
        if self._threads:  # shutdown() waits for serve_forever: only if it runs
            for server in (*self.servers, self.control_server):
                server.shutdown()
        self._close_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def _close_all(self) -> None:
        for server in self.servers:
            server.server_close()
        if hasattr(self, "control_server"):
            self.control_server.server_close()

    def __enter__(self) -> ServedBench:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def instrument(self, port: int) -> ServedInstrument:
        for instrument in self.instruments:
            if instrument.port == port:
                return instrument
        raise KeyError(f"no instrument on port {port}; served: {[i.port for i in self.instruments]}")
