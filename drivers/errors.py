"""The project's exceptions: what went wrong, on which instrument, with which command."""

from __future__ import annotations

from typing import Any

#: longest rendering of a bad value in a message
MAX_SHOWN = 60


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters with the full length said:
    a 10 MB value is never echoed whole."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


class LabrunError(Exception):
    """Base of every labrun error."""


class InstrumentError(LabrunError):
    """The instrument refused or failed a command (an entry of its error queue)."""

    def __init__(self, instrument: str, command: str, detail: str) -> None:
        self.instrument = instrument
        self.command = command
        self.detail = detail
        super().__init__(f"{instrument}: {command!r} failed: {detail}")


class InstrumentTimeout(InstrumentError):
    """No answer within the timeout (the instrument is busy, off, or its link is down)."""


class ConnectionFailed(LabrunError):
    """The VISA resource could not be opened."""


class WrongInstrument(ConnectionFailed):
    """The instrument at the address is not the model the driver speaks to (or not in its language)."""

    def __init__(self, message: str, identity: str = "") -> None:
        super().__init__(message)
        #: what the instrument answered to ``*IDN?`` ("" where it was not the question)
        self.identity = identity


class DeviceBusy(LabrunError):
    """Another experiment holds the instrument's device lock."""


class LimitError(ValueError, LabrunError):
    """A value outside the model's range or the user's limits; nothing was written."""
