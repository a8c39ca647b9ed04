"""One twin on one port: the instrument's side of a served bench, whoever is connected.

Why apart from the server: the control port (``control.py``) and the TCP server
(``server.py``) both work on a served instrument (its status, its faults, its lock); here
it depends on neither, so neither depends on the other.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pyvisa

from .faults import fault_from_dict
from .sourcemeter_twin import SourceMeterTwin

logger = logging.getLogger(__name__)

INPUT_BUFFER_OVERRUN = -363


@dataclass
class ServedInstrument:
    """One twin on one port: its state is the instrument's, whoever is connected."""

    model: str
    twin: SourceMeterTwin
    host: str
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    clients: set[socket.socket] = field(default_factory=set)
    connections: int = 0  # accepted since start

    @property
    def address(self) -> str:
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    def execute(self, message: bytes) -> tuple[bytes, float] | None:
        """Run one message; its answer and when it may go. None: the link is 'cut' (fault)."""
        with self.lock:
            try:
                self.twin.receive(message)
            except pyvisa.errors.VisaIOError:
                logger.info("%s: fault 'disconnect': closing the connection", self.address)
                return None
            return self.twin.take_answer()

    def overrun(self) -> None:
        with self.lock:
            self.twin.push_error(INPUT_BUFFER_OVERRUN)

    def status(self) -> dict[str, Any]:
        """What the simulated world looks like now, for ``labrun sim status`` and tests."""
        with self.lock:
            twin = self.twin
            channels = []
            for channel in range(1, twin.tree.channels + 1):
                sourced = twin.sourced(channel)
                limit = "voltage_limit" if sourced == "current" else "current_limit"
                channels.append(
                    {
                        "channel": channel,
                        "output": bool(twin.state[(channel, "output")]),
                        "source": sourced,
                        "level": float(twin.state[(channel, sourced)]),
                        "limit": float(twin.state[(channel, limit)]),
                    }
                )
            fault = twin.fault
            return {
                "port": self.port,
                "address": self.address,
                "model": self.model,
                "load": repr(twin.load),
                "messages": twin.received,
                "answers": twin.answered,
                "readings": twin.readings,
                "clients": len(self.clients),
                "connections": self.connections,
                "errors_queued": len(twin.errors),
                "fault": None if fault is None else {**asdict(fault), "after": fault.after - twin.answered},
                "channels": channels,
            }

    def inject(self, spec: Mapping[str, Any] | None) -> None:
        """A fault from now on: ``after`` counts answers from this moment. None clears it."""
        with self.lock:
            fault = fault_from_dict(spec)
            if fault is not None:
                fault = replace(fault, after=fault.after + self.twin.answered)
            self.twin.set_fault(fault)
        logger.info("%s: fault %s", self.address, fault or "cleared")
