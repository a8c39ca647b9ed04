"""The interface every source-meter driver implements, and what they share.

A concrete driver declares its model's limits and the SCPI it speaks (class
attributes); this class turns them into checked, atomic operations. Values are SI
floats: volts, amperes, seconds.
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import ClassVar

from . import at_exit
from .channels import ChannelFamily
from .errors import InstrumentError, LimitError, WrongInstrument
from .instrument import Instrument
from .ranges import RangeSettings
from .safe_end import SafeEnd
from .settings import check_range
from .specs import Limits, Ranges, Reading, Scpi
from .state import SourceMode, SourceState
from .sweeps import InstrumentSweeps

logger = logging.getLogger(__name__)


class SourceMeter(RangeSettings, SourceState, InstrumentSweeps, SafeEnd, ChannelFamily):
    """A source-measure unit on one channel.

    Subclasses set the class attributes below; the public methods are the same for
    every model, so experiments and scripts do not care which instrument answers.
    """

    model: ClassVar[str]
    limits: ClassVar[Limits]
    ranges: ClassVar[Ranges]
    #: regular expression the ``*IDN?`` answer is expected to match, and what it means
    identity_pattern: ClassVar[str] = ""
    series: ClassVar[str] = ""
    #: every command the shared code sends, by name (``{value}`` filled in)
    scpi: ClassVar[Scpi]
    #: the instrument answers no reading while its output is off (Keithley 2400)
    needs_output_for_reading: ClassVar[bool] = False

    def __init__(
        self, instrument: Instrument, *, channel: int = 1, parent: SourceMeter | None = None
    ) -> None:
        self.instrument = instrument
        self.join_family(instrument, channel, parent)
        # what the driver knows of the instrument; ``sync()`` reads it back
        self._mode: SourceMode = "voltage"
        self._level = 0.0
        self._current_limit = self.limits.current_limit_range[0]
        self._voltage_limit = self.limits.voltage_limit_range[0]
        self._output_enabled = False
        self._resistance = False  # readings carry the instrument's resistance too
        self._warned_compliance = False
        #: at interpreter exit, leave the output as it is (an experiment that must keep a bias)
        self.keep_output = False
        #: how to raise the compliance, in the words of the interface in use (a YAML key, ...)
        self.compliance_advice: str | None = None
        at_exit.open_drivers.add(self)
        self._sealed = True  # from here on, a public attribute must be a setting (__setattr__)

    # ---------------------------------------------------------------- identity

    def identify(self) -> str:
        """The ``*IDN?`` answer: maker, model, serial number, firmware."""
        return self.instrument.query("*IDN?")

    def check_identity(self, *, force_model: bool = False) -> str:
        """Ask ``*IDN?``; refuse another model (wrong address? wrong driver?) unless forced.

        Another model speaks another dialect: the first command it does not know would
        fail later with a cryptic error, after the output may have been switched on.
        """
        idn = self.identify()
        if self.identity_pattern and not re.search(self.identity_pattern, idn):
            if not force_model:
                raise WrongInstrument(
                    f"expected a {self.series or self.model} at {self.instrument.resource.resource_name}, "
                    f"found {idn!r}; pick the driver of that model, or, if it speaks the same "
                    "commands, pass force_model=True (YAML: instrument.force_model: true)"
                )
            logger.warning("%s: driving %r as a %s (force_model)", self.name, idn, self.model)
        return idn

    def reset(self) -> None:
        """``*RST`` (output off, defaults), then the driver's own configuration.

        On a multi-channel instrument ``*RST`` resets every channel: refused while another
        channel is held by a run.
        """
        for other in self.family():
            if other is not self and other.device_lock.busy:
                raise InstrumentError(
                    self.name, "*RST", f"would reset {other.name}, in use by {other.device_lock.owner}"
                )
        with self.instrument.io_lock:
            self.instrument.write("*RST")
            self.configure()
            for driver in self.family():
                driver.sync()

    def configure(self) -> None:
        """Fix the reading format the driver parses (sent after opening and after reset)."""
        for command in self.scpi.configure:
            self.instrument.write(command)
        for driver in self.family():  # the format is the instrument's, every channel's
            driver._resistance = False  # voltage and current again

    def sync(self) -> None:
        """Read mode, level, limits and output state back from the instrument."""
        with self.instrument.io_lock:
            q = self.instrument.query
            self._mode = "current" if q(self.scpi.source_query).upper().startswith("CURR") else "voltage"
            self._level = self.get_level()
            self._current_limit = float(q(self.scpi.current_limit_query))
            self._voltage_limit = float(q(self.scpi.voltage_limit_query))
            self._output_enabled = self.is_output_on()

    @property
    def measure_resistance(self) -> bool:
        """Each reading also carries the resistance the instrument computes (ohms), where
        the model's readings can (its ``Scpi.resistance_on``)."""
        return self._resistance

    @measure_resistance.setter
    def measure_resistance(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise LimitError(f"measure_resistance: expected True or False, got {on!r}")
        commands = self.scpi.resistance_on if on else self.scpi.resistance_off
        if on and not commands:
            raise LimitError(f"the {self.model}'s readings carry no resistance in labrun")
        with self.instrument.io_lock:
            for command in commands:
                self.instrument.write(command)
            for driver in self.family():  # one reading format for every channel
                driver._resistance = on

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
        volts = self._allowed_voltage(volts)
        with self.instrument.io_lock:
            if self.mode != "voltage":
                self.source_voltage()
            self.instrument.write(self.scpi.voltage_level.format(value=volts))
            self._level = volts

    def set_current(self, amps: float) -> None:
        """Source ``amps`` (switching to current mode if needed); refused beyond the model's range."""
        amps = self._allowed_current(amps)
        with self.instrument.io_lock:
            if self.mode != "current":
                self.source_current()
            self.instrument.write(self.scpi.current_level.format(value=amps))
            self._level = amps

    def source_and_measure(self, level: float) -> Reading:
        """Set the level of the present mode and take a reading: one checked round trip.

        What a sweep does at each point; the level is checked like ``set_voltage`` /
        ``set_current`` and confirmed through the error queue before the reading counts.
        """
        if self._mode == "voltage":
            value, setter = self._allowed_voltage(level), self.scpi.voltage_level
        else:
            value, setter = self._allowed_current(level), self.scpi.current_level
        if self.needs_output_for_reading and not self._output_enabled:  # as measure(), a call less
            self._check_output_for_reading()
        text = self.instrument.command_then_query(setter.format(value=value), self.scpi.reading_query)
        self.__dict__["_level"] = value  # past the guard of __setattr__ (a private name): once a point
        return self._reading(text)

    def _allowed_voltage(self, volts: float) -> float:
        volts, most = float(volts), self.limits.max_voltage
        if not -most <= volts <= most:  # NaN fails this too: check_range says why
            check_range("voltage", volts, -most, most, "V")
        allowed = self.limits.max_current_at(volts)
        if self._current_limit > allowed:
            raise LimitError(
                f"{volts:g} V with a current limit of {self.current_limit:g} A is outside the "
                f"{self.model}'s power envelope: at {volts:g} V at most {allowed:g} A; lower the limit first"
            )
        return volts

    def _allowed_current(self, amps: float) -> float:
        amps, most = float(amps), self.limits.max_current
        if not -most <= amps <= most:  # NaN fails this too: check_range says why
            check_range("current", amps, -most, most, "A")
        allowed = self.limits.max_voltage_at(amps)
        if self._voltage_limit > allowed:
            raise LimitError(
                f"{amps:g} A with a voltage limit of {self.voltage_limit:g} V is outside the "
                f"{self.model}'s power envelope: at {amps:g} A at most {allowed:g} V; lower the limit first"
            )
        return amps

    def get_level(self) -> float:
        """The programmed level of the present mode, as the instrument reports it."""
        query = self.scpi.voltage_level_query if self.mode == "voltage" else self.scpi.current_level_query
        return float(self.instrument.query(query))

    def set_current_limit(self, amps: float) -> None:
        """Compliance in voltage mode: the most current the output may drive."""
        low, high = self.limits.current_limit_range
        high = min(high, self.limits.max_current_at(self.level if self.mode == "voltage" else 0.0))
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
        if self.mode == "voltage":
            self.set_current_limit(value)
        else:
            self.set_voltage_limit(value)

    # ------------------------------------------------------------------ output

    def output_on(self) -> None:
        self.instrument.write(self.scpi.output_on)
        self._output_enabled = True

    def output_off(self) -> None:
        self.instrument.write(self.scpi.output_off)
        self._output_enabled = False

    def is_output_on(self) -> bool:
        """Ask the instrument (``output_enabled`` is what the driver last set)."""
        return self.instrument.query(self.scpi.output_query).strip() in ("1", "ON")

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
        if self._resistance:
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
            if self.mode == "voltage":
                limit, how = f"current limit ({self.current_limit:g} A)", "set_current_limit()"
            else:
                limit, how = f"voltage limit ({self.voltage_limit:g} V)", "set_voltage_limit()"
            logger.warning(
                "%s: reading at the %s; %s",
                self.name,
                limit,
                self.compliance_advice or f"raise it with {how}",
            )
        return Reading(voltage, current, stamp, clipped)

    def parse_reading(self, text: str) -> tuple[float, float]:
        """(voltage, current) from the measure query's answer; default ``V,I`` (``V,I,R``
        while resistance is measured)."""
        fields = text.split(",")
        if len(fields) != 2 + self._resistance:
            raise ValueError(f"expected {2 + self._resistance} values, got {len(fields)}")
        return float(fields[0]), float(fields[1])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
