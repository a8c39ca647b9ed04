"""The source-measure core of a source-meter: its source state, its checked writes, its
readings — the per-point path, tuned (see the comments): a sweep calls it at every point.

Why a class of its own under ``SourceMeter``: it needs nothing of the parts a
source-meter is made of (channels, instrument-side sweep, safe end), which build on it.
"""

from __future__ import annotations

import logging
import math
import time
from typing import ClassVar

from .driver import Driver
from .errors import InstrumentError
from .instrument import Instrument
from .settings import check_range, is_on
from .specs import Limits, Ranges, Reading, Scpi
from .state import CURRENT_LIMIT, LEVEL, MODE, OUTPUT_ENABLED, VOLTAGE_LIMIT, SourceMode

logger = logging.getLogger("labrun.drivers.sourcemeter")


class SourceMeasure(Driver):
    """Source a level, limit the other quantity, take readings: one channel's core."""

    limits: ClassVar[Limits]
    ranges: ClassVar[Ranges]
    #: every command the shared code sends, by name (``{value}`` filled in)
    scpi: ClassVar[Scpi]
    #: the instrument answers no reading while its output is off (Keithley 2400)
    needs_output_for_reading: ClassVar[bool] = False
    #: readings carry a resistance the driver computes, V / I of the reading itself, where
    #: the instrument's readings carry none (the 2600B: what its ``measure.r()`` computes)
    resistance_of_reading: ClassVar[bool] = False

    # the source state: entries of the table whose copy the driver keeps (state.py)
    mode = MODE
    level = LEVEL
    current_limit = CURRENT_LIMIT
    voltage_limit = VOLTAGE_LIMIT
    output_enabled = OUTPUT_ENABLED

    def __init__(self, instrument: Instrument, *, channel: int = 1) -> None:
        super().__init__(instrument, channel=channel)
        # what the driver knows of the instrument; ``sync()`` reads it back
        self._mode: SourceMode = "voltage"
        self._level = 0.0
        self._current_limit = self.limits.current_limit_range[0]
        self._voltage_limit = self.limits.voltage_limit_range[0]
        self._output_enabled = False
        self._measure_resistance = False  # readings carry the instrument's resistance too
        self._warned_compliance = False
        #: how to raise the compliance, in the words of the interface in use (a YAML key, ...)
        self.compliance_advice: str | None = None

    def sync(self) -> None:
        """Read mode, level, limits and output state back from the instrument."""
        with self.instrument.io_lock:
            MODE.sync(self)
            LEVEL.keep(self, self.get_level())  # of the mode just read: LEVEL.read would ask it again
            for held in (CURRENT_LIMIT, VOLTAGE_LIMIT, OUTPUT_ENABLED):
                held.sync(self)

    # ------------------------------------------------------------------ source

    def source_voltage(self) -> None:
        """Switch to sourcing voltage (the current limit is the compliance)."""
        self.instrument.write(self.scpi.source_voltage)
        self._mode, self._level = "voltage", 0.0

    def source_current(self) -> None:
        """Switch to sourcing current (the voltage limit is the compliance)."""
        self.instrument.write(self.scpi.source_current)
        self._mode, self._level = "current", 0.0

    def set_voltage(self, volts: float) -> None:
        """Source ``volts`` (switching to voltage mode if needed); refused beyond the model's range."""
        volts = self.limits.allowed_voltage(volts, self._current_limit, self.model)
        with self.instrument.io_lock:
            if self._mode != "voltage":
                self.source_voltage()
            self.instrument.write(self.scpi.voltage_level.format(value=volts))
            self._level = volts

    def set_current(self, amps: float) -> None:
        """Source ``amps`` (switching to current mode if needed); refused beyond the model's range."""
        amps = self.limits.allowed_current(amps, self._voltage_limit, self.model)
        with self.instrument.io_lock:
            if self._mode != "current":
                self.source_current()
            self.instrument.write(self.scpi.current_level.format(value=amps))
            self._level = amps

    def source_and_measure(self, level: float) -> Reading:
        """Set the level of the present mode and take a reading: one checked round trip.

        What a sweep does at each point; the level is checked like ``set_voltage`` /
        ``set_current`` and confirmed through the error queue before the reading counts.
        """
        if self._mode == "voltage":
            value = self.limits.allowed_voltage(level, self._current_limit, self.model)
            setter = self.scpi.voltage_level
        else:
            value = self.limits.allowed_current(level, self._voltage_limit, self.model)
            setter = self.scpi.current_level
        if self.needs_output_for_reading and not self._output_enabled:  # as measure(), a call less
            self._check_output_for_reading()
        text = self.instrument.command_then_query(setter.format(value=value), self.scpi.reading_query)
        self.__dict__["_level"] = value  # past the guard of __setattr__ (a private name): once a point
        return self._reading(text)

    def allowed_level(self, level: float) -> float:
        """``level`` in the present mode, checked against the model's range and power envelope."""
        if self._mode == "voltage":
            return self.limits.allowed_voltage(level, self._current_limit, self.model)
        return self.limits.allowed_current(level, self._voltage_limit, self.model)

    def get_level(self) -> float:
        """The programmed level of the present mode, as the instrument reports it."""
        query = self.scpi.voltage_level_query if self._mode == "voltage" else self.scpi.current_level_query
        return float(self.instrument.query(query))

    def set_current_limit(self, amps: float) -> None:
        """Compliance in voltage mode: the most current the output may drive."""
        low, high = self.limits.current_limit_range
        high = min(high, self.limits.max_current_at(self._level if self._mode == "voltage" else 0.0))
        amps = check_range("current limit", amps, low, high, "A")
        self.instrument.write(self.scpi.current_limit.format(value=amps))
        self._current_limit = amps

    def set_voltage_limit(self, volts: float) -> None:
        """Compliance in current mode: the most voltage the output may develop."""
        low, high = self.limits.voltage_limit_range
        volts = check_range("voltage limit", volts, low, high, "V")
        self.instrument.write(self.scpi.voltage_limit.format(value=volts))
        self._voltage_limit = volts

    def set_compliance(self, value: float) -> None:
        """The limit of the present mode: amperes in voltage mode, volts in current mode."""
        (self.set_current_limit if self._mode == "voltage" else self.set_voltage_limit)(value)

    # ------------------------------------------------------------------ output

    def output_on(self) -> None:
        self.instrument.write(self.scpi.output_on)
        self._output_enabled = True

    def output_off(self) -> None:
        self.instrument.write(self.scpi.output_off)
        self._output_enabled = False

    def is_output_on(self) -> bool:
        """Ask the instrument (``output_enabled`` is what the driver last set)."""
        return is_on(self.instrument.query(self.scpi.output_query))

    # ----------------------------------------------------------------- measure

    def measure(self) -> Reading:
        """One reading of terminal voltage and current, as one transaction."""
        self._check_output_for_reading()
        return self._reading(self.instrument.query(self.scpi.reading_query))

    def _check_output_for_reading(self) -> None:
        """Refuse at once where the instrument would answer nothing (2400: +803) and time out."""
        if self.needs_output_for_reading and not self._output_enabled:
            raise InstrumentError(self.name, "measure", "the output is off: turn it on to take a reading")

    def _reading(self, text: str) -> Reading:
        stamp = time.time()
        try:
            voltage, current = self.parse_reading(text)
        except (ValueError, IndexError) as error:
            raise InstrumentError(
                self.name, self.scpi.reading_query, f"unreadable answer {text!r}"
            ) from error
        reading = self.reading_of(voltage, current, stamp)
        if self._measure_resistance and self.scpi.resistance_on:  # the instrument's, in the reading
            ohms = float(text.split(",")[2])  # 9.91E37: not measured (another channel's format)
            reading = reading._replace(resistance=math.nan if abs(ohms) >= 9.9e37 else ohms)
        return reading

    def reading_of(self, voltage: float, current: float, stamp: float) -> Reading:
        """A :class:`Reading`, flagged (and warned of, once) when it sat at the compliance."""
        if self._mode == "voltage":
            clipped = abs(current) >= 0.999 * self._current_limit
        else:
            clipped = abs(voltage) >= 0.999 * self._voltage_limit
        if clipped and not self._warned_compliance:
            self._warned_compliance = True  # once per driver: a sweep into compliance is normal
            if self._mode == "voltage":
                limit, how = f"current limit ({self._current_limit:g} A)", "set_current_limit()"
            else:
                limit, how = f"voltage limit ({self._voltage_limit:g} V)", "set_voltage_limit()"
            advice = self.compliance_advice or f"raise it with {how}"
            logger.warning("%s: reading at the %s; %s", self.name, limit, advice)
        return Reading(voltage, current, stamp, clipped)

    def parse_reading(self, text: str) -> tuple[float, float]:
        """(voltage, current) from the measure query's answer; default ``V,I`` (``V,I,R``
        while resistance is measured)."""
        fields = text.split(",")
        if len(fields) != 2 + self._measure_resistance:
            raise ValueError(f"expected {2 + self._measure_resistance} values, got {len(fields)}")
        return float(fields[0]), float(fields[1])
