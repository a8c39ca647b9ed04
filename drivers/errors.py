"""The project's exceptions: what went wrong, on which instrument, with which command."""

from __future__ import annotations


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


class DeviceBusy(LabrunError):
    """Another experiment holds the instrument's device lock."""


class LimitError(ValueError, LabrunError):
    """A value outside the model's range or the user's limits; nothing was written."""
