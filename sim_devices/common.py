"""The IEEE 488.2 common commands and status model every twin answers (a mixin of ``ScpiTwin``).

*CLS, *ESE(?), *ESR?, *OPC(?), *SRE(?), *STB?, *TST?, *OPT?, *TRG, *WAI, *SAV/*RCL, *IDN?,
and the error queue's :SYSTem:ERRor:ALL?; a command error sets ESR bit 5, an error in
the queue sets STB bit 2, *RST keeps the enables (IEEE 488.2 §10–11).
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

from .scpi import ProgramUnit
from .scpi_errors import ScpiError

#: Overflow marker placed last when the queue is full (SCPI-99 21.8.5).
QUEUE_OVERFLOW = -350

# IEEE 488.2 standard event status register bits, and status byte bits
ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME, ESR_PON = 1, 4, 8, 16, 32, 128
STB_EAV, STB_MAV, STB_ESB, STB_MSS = 4, 16, 32, 64
STB_MSB = 1  # the 2400's measurement summary bit


def event_bit(code: int) -> int:
    """The event register bit an error sets: -1xx command, -2xx execution, -4xx query,
    anything else (-3xx, the instrument's own positive codes) device-dependent."""
    if -199 <= code <= -100:
        return ESR_CME
    if -299 <= code <= -200:
        return ESR_EXE
    if -499 <= code <= -400:
        return ESR_QYE
    return ESR_DDE


def _register_value(unit: ProgramUnit) -> int:
    try:
        value = int(float(unit.params[0]))
    except (IndexError, ValueError):
        raise ScpiError(-104, "a register value 0..255 expected") from None
    if not 0 <= value <= 255:
        raise ScpiError(-222, f"register value {value} outside 0..255")
    return value


#: the memory slots of *SAV / *RCL (0..4 on the 2400, the 2450 and the B2900)
SAVE_SLOTS = 5


class CommonCommands:
    """What every SCPI instrument answers the same way."""

    errors: deque[tuple[int, str]]
    state: dict[tuple[int, str], Any]
    esr: int
    ese: int
    sre: int
    _output_buffers: Any
    _dialogues: dict[bytes, bytes]
    #: instrument states kept by *SAV, by slot
    saved: dict[int, dict[tuple[int, str], Any]]

    def command_clear_status(self, unit: ProgramUnit) -> None:
        """``*CLS``: the error queue and the event status register (not their enables)."""
        self.errors.clear()
        self.esr = 0

    # IEEE 488.2 status model (§11): *ESR? reads and clears the standard event status
    # register; *STB? sums the status byte; *ESE / *SRE are the enables (*RST keeps them)

    def query_event_status(self, unit: ProgramUnit) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    def query_status_byte(self, unit: ProgramUnit) -> str:
        stb = (STB_EAV if self.errors else 0) | (STB_MAV if self._output_buffers else 0)
        stb |= STB_ESB if self.esr & self.ese else 0
        return str(stb | (STB_MSS if stb & self.sre else 0))

    def command_operation_complete(self, unit: ProgramUnit) -> None:
        self.esr |= ESR_OPC  # every operation of a twin completes at once

    def command_event_enable(self, unit: ProgramUnit) -> None:
        self.ese = _register_value(unit)

    def query_event_enable(self, unit: ProgramUnit) -> str:
        return str(self.ese)

    def command_service_enable(self, unit: ProgramUnit) -> None:
        self.sre = _register_value(unit) & ~STB_MSS  # bit 6 cannot be enabled (488.2 11.3.2)

    def query_service_enable(self, unit: ProgramUnit) -> str:
        return str(self.sre)

    def query_self_test(self, unit: ProgramUnit) -> str:
        """``*TST?``: 0, the self-test passed (a twin has no hardware to fail)."""
        return "0"

    def query_options(self, unit: ProgramUnit) -> str:
        """``*OPT?``: the installed options; none."""
        return "0"

    def command_trigger(self, unit: ProgramUnit) -> None:
        """``*TRG``: a bus trigger; no trigger model waits for one here, so it is ignored."""

    def command_save(self, unit: ProgramUnit) -> None:
        """``*SAV n``: keep the present settings in slot n."""
        self.saved[_slot(unit)] = copy.deepcopy(self.state)

    def command_recall(self, unit: ProgramUnit) -> None:
        """``*RCL n``: the settings kept in slot n (the output off, as on recall)."""
        slot = _slot(unit)
        kept = self.saved.get(slot)
        if kept is None:
            raise ScpiError(-221, f"nothing saved in slot {slot}")
        self.state = copy.deepcopy(kept)
        for channel, key in self.state:
            if key == "output":
                self.state[(channel, key)] = False

    def query_error_all(self, unit: ProgramUnit) -> str:
        """``:SYSTem:ERRor:ALL?``: every queued error, oldest first, the queue emptied."""
        if not self.errors:
            return '0,"No error"'
        entries = [f'{code},"{text}"' for code, text in self.errors]
        self.errors.clear()
        return ",".join(entries)

    def command_beep(self, unit: ProgramUnit) -> None:
        """``:SYSTem:BEEPer`` frequency, time: accepted (a twin makes no sound)."""

    def command_nothing(self, unit: ProgramUnit) -> None:
        """Accepted and without effect in a simulation (``:ABORt``, ``*WAI``)."""

    def query_identify(self, unit: ProgramUnit) -> str:
        # the static answer of the model's pyvisa-sim YAML
        return self._dialogues[b"*IDN?"].decode()

    def query_one(self, unit: ProgramUnit) -> str:
        return "1"


def _slot(unit: ProgramUnit) -> int:
    try:
        slot = int(float(unit.params[0]))
    except (IndexError, ValueError):
        raise ScpiError(-104, "a memory slot 0..4 expected") from None
    if not 0 <= slot < SAVE_SLOTS:
        raise ScpiError(-222, f"memory slot {slot} outside 0..{SAVE_SLOTS - 1}")
    return slot
