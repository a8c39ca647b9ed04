"""A simulated SCPI instrument: pyvisa-sim's device with a SCPI parser, error queue and status model.

Why a subclass of pyvisa-sim's ``Device``: pyvisa-sim stays the transport (sessions,
terminations, timeouts, byte-wise reads, the static answers of its YAML); only the
part that turns a program message into state changes and answers is ours.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import pyvisa

from .common import ESR_PON, QUEUE_OVERFLOW, CommonCommands, event_bit
from .faults import Fault
from .scpi import MessageParser, ProgramUnit
from .scpi_errors import ERROR_TEXT, ScpiError
from .scpi_tree import CommandTree
from .seam import Device
from .timing import Timing

logger = logging.getLogger(__name__)

_BYTES = [bytes((i,)) for i in range(256)]


class ScpiTwin(CommonCommands, Device):
    """A device whose commands come from a :class:`CommandTree`.

    Hooks: a tree entry ``query: name`` calls ``self.query_name(unit)``, an entry
    ``command: name`` calls ``self.command_name(unit)``. Model subclasses add the hooks
    for what the model computes; the common commands live here.
    """

    @classmethod
    def compile(
        cls, section: Mapping[str, Any], within: Callable[[str], tuple[float, float]], channels: int
    ) -> CommandTree:
        """The model's command tree from its twin file's ``scpi:`` section: the limits its
        settings take ``within`` the driver's, the driver's channels. A hook the data names
        but the behaviour lacks would crash the twin on that command: refused here."""
        tree = CommandTree.from_data(section, within)
        tree.channels = channels
        missing = [
            f"{kind}_{hook}"
            for command in tree.commands
            for kind, hook in (("query", command.on_query), ("command", command.on_command))
            if hook and not hasattr(cls, f"{kind}_{hook}")
        ]
        if missing:
            raise ValueError(f"hooks missing from {cls.__name__}: {', '.join(missing)}")
        return tree

    def __init__(self, name: str, tree: CommandTree) -> None:
        super().__init__(name, delimiter=b"")
        self._input_buffer: bytearray = bytearray()
        self.tree = tree
        self.parser = MessageParser(tree)
        self.errors: deque[tuple[int, str]] = deque()
        #: every program message received, as bytes: tests assert on it
        self.log: list[bytes] = []
        #: keep only about this many messages in ``log`` (a served twin lives long)
        self.log_limit: int | None = None
        self.received = 0  # program messages, all of them
        #: the injected fault (see faults.py); None: a healthy instrument
        self.fault: Fault | None = None
        self.fault_fired = False
        self.answered = 0  # response messages so far
        self._ready_at = 0.0  # a slow answer is readable from then on
        #: the time model (timing.py); None: everything at once, as tests want
        self.timing: Timing | None = None
        #: monotonic time the instrument has done all it was asked (with a time model)
        self.busy_until = 0.0
        self._clock = 0.0  # where the message being executed has got to, in time
        self._answer_at = 0.0  # the last answer crosses the link by then
        self.rng = random.Random()
        self.state: dict[tuple[int, str], Any] = {}
        #: IEEE 488.2 registers: the event status register (power-on bit set, as after
        #: switching on), its enable, and the service request enable
        self.esr, self.ese, self.sre = ESR_PON, 0, 0
        self.saved: dict[int, dict[tuple[int, str], Any]] = {}  # *SAV's memory slots
        self._io = threading.Lock()  # the twin is one instrument: one message at a time
        self.reset_state()

    # ----------------------------------------------------------------- transport

    def write(self, data: bytes) -> None:
        """Collect bytes until the termination, then execute the program message."""
        if not isinstance(data, bytes):
            raise TypeError("data must be an instance of bytes")
        with self._io:
            self._input_buffer.extend(data)
            eom = self._query_eom
            if eom and not self._input_buffer.endswith(eom):
                return
            message = bytes(self._input_buffer[: len(self._input_buffer) - len(eom)])
            self._input_buffer = bytearray()
            self.receive(message)

    def receive(self, message: bytes) -> None:
        """Log and execute one program message (without its terminator)."""
        self.received += 1
        self.log.append(message)
        if self.log_limit is not None and len(self.log) > 2 * self.log_limit:
            del self.log[: -self.log_limit]  # a long-lived served twin keeps the recent past
        logger.debug("twin %s received %r", self.name, message)
        self.execute(message.decode("latin-1"))

    def set_fault(self, fault: Fault | None) -> None:
        """Misbehave from now on as ``fault`` says (None: a healthy instrument again)."""
        self.fault = fault
        self.fault_fired = False
        self._ready_at = 0.0

    def take_answer(self) -> tuple[bytes, float]:
        """Every queued response, as bytes, and the monotonic time it may be sent.

        The network server's read: one call per message instead of pyvisa-sim's
        one call per byte. A ``slow`` fault makes the time later than now.
        """
        response = b"".join(self._output_buffers)
        self._output_buffers.clear()
        return response, max(self._ready_at, self._answer_at)

    def read(self) -> tuple[bytes, bool]:
        """One byte of the pending answer, and whether it is the last.

        Lock-free: pyvisa-sim calls this once per byte, and deque operations are atomic;
        a message arriving meanwhile (unlocked threads) may drop the answer, never crash.
        """
        buffers = self._output_buffers
        if self._ready_at and time.monotonic() < self._ready_at:
            return b"", False
        if self._answer_at and buffers:  # the time model: wait out the instrument's work
            wait = self._answer_at - time.monotonic()
            if wait > 0.01:
                return b"", False  # pyvisa-sim asks again in 10 ms (and checks its timeout)
            if wait > 0:
                time.sleep(wait)  # the last stretch, exactly
        try:
            buffer = buffers[0]
            byte = buffer.pop(0)
        except IndexError:
            return b"", False
        if buffer:
            return _BYTES[byte], False
        if buffers and buffers[0] is buffer:
            with contextlib.suppress(IndexError):
                buffers.popleft()
        return _BYTES[byte], True

    def execute(self, message: str) -> None:
        """Run one program message; queue one response message if it held queries."""
        fault = self.fault
        if fault is not None and fault.kind == "disconnect" and self.answered >= fault.after:
            raise pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_connection_lost)
        if self._output_buffers:
            # a new message before the last answer was read: 488.2 discards it
            self._output_buffers.clear()
            self.push_error(-410)
        timing = self.timing
        if timing is not None:  # the message crosses the link, then waits its turn
            self._clock = max(time.monotonic(), self.busy_until) + timing.link_latency
        response = self.respond(message)
        if timing is not None:
            self.busy_until = self._clock
            if response is not None:
                self._answer_at = self._clock + timing.link_latency
        if response is not None:
            self._answer(response)

    def respond(self, message: str) -> bytes | None:
        """What the instrument does with one message: its response, if it held queries."""
        answers: list[str] = []
        for unit in self.parser.units(message):
            if isinstance(unit, ScpiError):
                self.push_error(unit.code)
                continue
            try:
                answer = self._run(unit)
            except ScpiError as error:
                self.push_error(error.code)
                logger.debug("twin %s: %s", self.name, error)
                continue
            if answer is not None:
                answers.append(answer)
        return ";".join(answers).encode() if answers else None

    def spend(self, seconds: float) -> None:
        """The instrument works ``seconds`` on the message in hand (time model only)."""
        if self.timing is not None:
            self._clock += seconds

    def _answer(self, response: bytes) -> None:
        """Queue a response message, as the injected fault (if any, and due) has it."""
        self.answered += 1
        fault = self.fault
        if fault is None or self.answered <= fault.after:
            self._output_buffers.append(bytearray(response) + self._response_eom)
            return
        logger.debug("twin %s: fault %s on answer %d", self.name, fault.kind, self.answered)
        if fault.kind == "timeout":
            return  # no answer: the read times out
        if fault.kind == "garbage":
            response = bytes(self.rng.randrange(33, 127) for _ in range(max(4, len(response))))
        elif fault.kind == "truncate":
            self._output_buffers.append(bytearray(response[: len(response) // 2]))  # no terminator
            return
        elif fault.kind == "error" and not self.fault_fired:
            self.fault_fired = True
            self.push_error(fault.code)
        elif fault.kind == "slow":
            self._ready_at = time.monotonic() + fault.delay  # the answer comes, late
        self._output_buffers.append(bytearray(response) + self._response_eom)

    def _run(self, unit: ProgramUnit) -> str | None:
        command = unit.command
        if unit.query:
            if command.on_query:
                result: str | None = getattr(self, "query_" + command.on_query)(unit)
                return result
            if command.setting is None:
                raise ScpiError(-113, f"{command.pattern} is not a query")
            if unit.params:
                raise ScpiError(-108, command.pattern)
            return command.setting.format(self.state[(unit.channel, command.setting.key)])
        if command.on_command:
            getattr(self, "command_" + command.on_command)(unit)
            return None
        if command.setting is None or command.setting.read_only:
            raise ScpiError(-113, f"{command.pattern} is query only")
        value = command.setting.parse(unit.params)
        self.state[(unit.channel, command.setting.key)] = value
        self.after_setting(unit.channel, command.setting.key, value)
        return None

    def after_setting(self, channel: int, key: str, value: Any) -> None:
        """Settings that follow from another (a sweep's step from its points, ...)."""

    # ------------------------------------------------------------ error queue

    def push_error(self, code: int, text: str | None = None) -> None:
        """An entry in the error queue: the standard text of ``code``, or ``text``."""
        self.esr |= event_bit(code)
        if len(self.errors) >= self.tree.error_queue_size:
            self.errors.pop()
            self.errors.append((QUEUE_OVERFLOW, ERROR_TEXT[QUEUE_OVERFLOW]))
            return
        self.errors.append((code, text or ERROR_TEXT.get(code, "Device-specific error")))

    def query_error_next(self, unit: ProgramUnit) -> str:
        code, text = self.errors.popleft() if self.errors else (0, "No error")
        return f'{code},"{text}"'

    def query_error_count(self, unit: ProgramUnit) -> str:
        return str(len(self.errors))

    # --------------------------------------------------------- common commands

    def reset_state(self) -> None:
        self.state = {
            (channel, key): value
            for channel in range(1, self.tree.channels + 1)
            for key, value in self.tree.defaults().items()
        }

    def command_reset(self, unit: ProgramUnit) -> None:
        self.reset_state()

    def device_clear(self) -> None:
        """viClear (a GPIB/USB device clear): input and output queues emptied, status kept."""
        self._input_buffer = bytearray()
        self._output_buffers.clear()
        self._ready_at = 0.0
