"""One instrument: its VISA resource, its I/O lock and its device lock.

Two locks, two scopes, both belonging to the instrument's address (see ``locks.py``):
- the **I/O lock** (re-entrant) makes a write and the read of its answer one
  transaction; without it, two threads sharing a resource read each other's answers.
- the **device lock** is held by an experiment for its whole run, so a second
  experiment on the same instrument waits or gets :class:`DeviceBusy`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pyvisa
from pyvisa.resources import MessageBasedResource

from .errors import InstrumentError, InstrumentTimeout
from .locks import locks_for
from .visa import in_process

logger = logging.getLogger(__name__)

NO_ERROR_CODES = ("0", "+0")


class Instrument:
    """A message-based instrument with atomic transactions and error-queue checks.

    ``write`` sends the command and the error count query in one program message
    (``CMD;:SYST:ERR:COUN?``), so each setting is confirmed in one round trip (the
    answer is one byte, ``0``, when all is well) and a refused command raises
    :class:`InstrumentError` naming it, with the entries of the error queue.
    """

    def __init__(
        self,
        resource: MessageBasedResource,
        *,
        name: str | None = None,
        timeout: float = 5.0,
        termination: str = "\n",
        error_query: str | None = ":SYST:ERR?",
        error_count_query: str | None = ":SYST:ERR:COUN?",
    ) -> None:
        self.resource = resource
        self.name = name or resource.resource_name
        self.error_query = error_query
        self.error_count_query = error_count_query if error_query else None
        self.termination = termination
        #: False from a timeout until the next answer: shutdowns then stop waiting for any
        self.responsive = True
        address = str(resource.resource_name)
        self.io_lock, self.device_lock = locks_for(address, interprocess=not in_process(resource))
        resource.read_termination = termination
        resource.write_termination = termination
        resource.timeout = timeout * 1000.0  # pyvisa counts milliseconds

    @property
    def timeout(self) -> float:
        """Seconds to wait for an answer."""
        return float(self.resource.timeout) / 1000.0

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self.resource.timeout = seconds * 1000.0

    @property
    def busy(self) -> bool:
        """True while an experiment holds the device lock."""
        return self.device_lock.busy

    def write(self, command: str, *, check: bool = True) -> None:
        """Send a command; with ``check``, confirm it through the error queue."""
        with self.io_lock:
            if not check or self.error_count_query is None:
                self._send(command)
                return
            count = self._transact(command, f"{command};{self.error_count_query}")
            self._raise_if_errors(command, count)

    def query(self, command: str) -> str:
        """Send a query and return its answer, as one transaction."""
        with self.io_lock:
            return self._transact(command, command)

    def query_checked(self, query: str) -> str:
        """``query``'s answer, or :class:`InstrumentError` at once if the instrument refused it.

        Sends ``QUERY;:SYST:ERR:COUN?`` and gets ``ANSWER;COUNT``: a refused query leaves
        only the count, and the error queue (emptied, so the next command is not blamed
        for it) says why. A plain query the instrument does not know costs a timeout.
        """
        with self.io_lock:
            if self.error_count_query is None:
                return self.query(query)
            answer, separator, _ = self._transact(query, f"{query};{self.error_count_query}").rpartition(";")
            if not separator:
                raise InstrumentError(self.name, query, self._queue_text() or "no answer")
            return answer

    def query_all(self, queries: Sequence[str]) -> list[str] | None:
        """Every query's answer in one round trip (``Q1;Q2;...;:SYST:ERR:COUN?``), or None if
        one was refused or the answers do not add up (the queue is emptied then): the caller
        asks them one by one, to know which. Why: a snapshot asks twenty settings, and on a
        bus each round trip costs milliseconds."""
        if self.error_count_query is None or not queries:
            return None
        with self.io_lock:
            answer = self._transact(queries[0], ";".join([*queries, self.error_count_query]))
            *values, count = answer.split(";")
            if count.strip() == "0" and len(values) == len(queries):
                return [value.strip() for value in values]
            self._queue_text()  # empty the queue: the next command must not be blamed for it
            return None

    def command_then_query(self, command: str, query: str) -> str:
        """``command``, confirmed through the error queue, then ``query``: one round trip.

        Sends ``COMMAND;:SYST:ERR:COUN?;QUERY`` as one program message and gets
        ``COUNT;ANSWER``. A refused command raises :class:`InstrumentError` naming it
        (the query's answer, taken at the old setting, is discarded).
        """
        with self.io_lock:
            if self.error_count_query is None:
                self.write(command, check=False)
                return self.query(query)
            answer = self._transact(f"{command};{query}", f"{command};{self.error_count_query};{query}")
            count, separator, rest = answer.partition(";")
            if count != "0":  # "0" is the answer at almost every point: no need to parse it
                self._raise_if_errors(command, count)
            if not separator:  # the query itself was refused: the queue says why
                raise InstrumentError(self.name, query, self._queue_text() or "no answer")
            return rest

    def _raise_if_errors(self, command: str, count: str) -> None:
        try:
            pending = int(count)
        except ValueError:
            raise InstrumentError(self.name, command, f"unreadable error count {count!r}") from None
        if pending:
            raise InstrumentError(self.name, command, self._queue_text() or f"{pending} errors")

    def errors(self) -> list[str]:
        """Empty the instrument's error queue (oldest first)."""
        if self.error_query is None:
            return []
        with self.io_lock:
            found: list[str] = []
            for _ in range(32):  # queues hold 10 to 30 entries; never loop forever
                status = self._transact(self.error_query, self.error_query)
                if status.startswith(NO_ERROR_CODES):
                    break
                found.append(status)
            return found

    def lock_exclusive(self) -> bool:
        """Take the VISA library's exclusive lock, where it offers one (vendor VISAs do;
        pyvisa-py's sockets and the simulators do not). True if taken."""
        try:
            self.resource.lock_excl(timeout=0)
        except (NotImplementedError, AttributeError, pyvisa.errors.VisaIOError) as error:
            logger.debug("%s: no exclusive VISA lock: %r", self.name, error)
            return False
        return True

    def unlock_exclusive(self) -> None:
        try:
            self.resource.unlock()
        except (NotImplementedError, AttributeError, pyvisa.errors.Error) as error:
            logger.debug("%s: unlock: %r", self.name, error)

    def close(self) -> None:
        with self.io_lock:
            try:
                self.resource.close()
            except pyvisa.errors.Error as error:  # already closed, or gone
                logger.debug("%s: close: %s", self.name, error)

    # ------------------------------------------------------------------ private

    def _send(self, message: str) -> None:
        """``message`` and the termination as bytes: the bytes pyvisa's ``write`` would send,
        through ``write_raw`` (``write`` adds only a warning for a message that already ends
        with the termination, and a few calls a message)."""
        logger.debug("%s -> %s", self.name, message)
        try:
            self.resource.write_raw((message + self.termination).encode(self.resource.encoding))
        except pyvisa.errors.VisaIOError as error:
            raise InstrumentError(self.name, message, error.description) from error

    def _transact(self, command: str, message: str) -> str:
        """Send ``message`` and read its answer; errors name ``command``.

        A timeout is not followed by an error-queue query: an instrument that did not
        answer one query will not answer the next, and each would cost a whole timeout
        (ten of them made a Ctrl-C take 50 s).
        """
        self._send(message)
        try:
            raw = self.resource.read_raw()
        except pyvisa.errors.VisaIOError as error:
            if error.error_code == pyvisa.constants.StatusCode.error_timeout:
                self.responsive = False
                raise InstrumentTimeout(self.name, command, f"no answer within {self.timeout:g} s") from error
            raise InstrumentError(self.name, command, error.description) from error
        self.responsive = True
        answer = raw.decode(self.resource.encoding, errors="replace")
        if logger.isEnabledFor(logging.DEBUG):  # not even the rstrip otherwise
            logger.debug("%s <- %s", self.name, answer.rstrip())
        if not answer.endswith(self.termination):
            # an answer cut short still parses as numbers: never take it for a reading
            raise InstrumentError(self.name, command, f"truncated answer {answer!r} (no terminator)")
        return answer.strip()

    def _queue_text(self) -> str:
        """The error queue's entries as one line ('' if empty or unreadable): for messages."""
        try:
            return "; ".join(self.errors())
        except InstrumentError:
            return ""
