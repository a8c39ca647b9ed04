"""The interface every source-meter driver implements, and what they share.

A concrete driver declares its model's limits, the SCPI it speaks and its settings
(class attributes); this class turns them into checked, atomic operations. Values are SI
floats: volts, amperes, seconds. Built in layers and parts, each in a module of its own:
``driver`` (identity, the table of settings, the snapshot) under ``source`` (source state,
checked writes, readings: the per-point path) under this class, which holds the parts:
the channels (``channels``), the instrument-side sweep (``sweeps``) and the safe end
(``safe_end``). The table's entries: ``settings``, ``state``, ``ranges``, each model's own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import ClassVar, Self, cast

from . import at_exit
from . import ranges as common
from .channels import Channels, channel_class
from .errors import InstrumentError
from .instrument import Instrument
from .safe_end import SafeEnd
from .source import SourceMeasure
from .specs import Reading
from .state import MEASURE_RESISTANCE
from .sweeps import InstrumentSweep, SweepScpi

logger = logging.getLogger(__name__)


class SourceMeter(SourceMeasure):
    """A source-measure unit on one channel.

    Subclasses set the class attributes below; the public methods are the same for
    every model, so experiments and scripts do not care which instrument answers.
    """

    #: source-measure channels of the model; each is a driver of its own (``channel(n)``)
    channels: ClassVar[int] = 1
    #: the model's instrument-side sweep, if labrun has one for it
    sweep_scpi: ClassVar[SweepScpi | None] = None

    measure_resistance = MEASURE_RESISTANCE
    # every model's ranges: the same SCPI, each model's own table (its ``ranges``)
    voltage_source_range = common.VOLTAGE_SOURCE_RANGE
    voltage_source_autorange = common.VOLTAGE_SOURCE_AUTORANGE
    current_source_range = common.CURRENT_SOURCE_RANGE
    current_source_autorange = common.CURRENT_SOURCE_AUTORANGE
    voltage_measure_range = common.VOLTAGE_MEASURE_RANGE
    voltage_measure_autorange = common.VOLTAGE_MEASURE_AUTORANGE
    current_measure_range = common.CURRENT_MEASURE_RANGE
    current_measure_autorange = common.CURRENT_MEASURE_AUTORANGE

    def __init__(
        self, instrument: Instrument, *, channel: int = 1, family: Channels[SourceMeter] | None = None
    ) -> None:
        super().__init__(instrument, channel=channel)
        #: the instrument's channel drivers (``family``: the opener's, for another channel)
        self._channels = family or Channels[SourceMeter](
            self, count=self.channels, model=self.model, make=self._made_channel
        )
        self._sweep = None if self.sweep_scpi is None else InstrumentSweep(self.sweep_scpi, self)
        self._end = SafeEnd(self, self._sweep)
        #: at interpreter exit, leave the output as it is (an experiment that must keep a bias)
        self.keep_output = False
        at_exit.open_drivers.add(self)
        self._sealed = True  # from here on, a public attribute must be a setting (__setattr__)

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
            driver._measure_resistance = False  # voltage and current again

    # ------------------------------------------------------- parts: channels, sweep, end

    def channel(self, number: int) -> Self:
        """The driver of channel ``number`` of this instrument (``channel(1)`` on a
        one-channel model is the driver itself): the connection and I/O lock shared, its
        own device lock and output; closing the instrument's driver ends every channel's."""
        return cast(Self, self._channels.driver(number))  # channel n's class derives from channel 1's

    def family(self) -> list[SourceMeter]:
        """The drivers on this instrument: channel 1's and every channel asked for so far."""
        return self._channels.all()

    def _made_channel(self, number: int) -> SourceMeter:
        made = channel_class(type(self), number)(self.instrument, channel=number, family=self._channels)
        made.keep_output, made.compliance_advice = self.keep_output, self.compliance_advice
        made._measure_resistance = self._measure_resistance  # the reading format is the instrument's
        made.sync()
        return made

    def _swept(self) -> InstrumentSweep:
        if self._sweep is None:
            raise NotImplementedError(f"{self.name}: no instrument-side sweep for this model")
        return self._sweep

    def start_sweep(self, levels: Sequence[float], *, delay: float = 0.0) -> None:
        """Load ``levels`` (of the present mode) into the instrument and start its sweep
        (see :meth:`InstrumentSweep.start`); returns at once."""
        self._swept().start(levels, delay=delay)

    def sweep_count(self) -> int:
        """Readings in the buffer so far."""
        return self._swept().count()

    def sweep_readings(self, start: int, stop: int) -> list[Reading]:
        """Readings ``start`` .. ``stop`` (0-based, ``stop`` excluded) of the sweep in hand."""
        return self._swept().readings(start, stop)

    def abort_sweep(self) -> None:
        """Stop the sweep where it is (its readings stay in the buffer)."""
        self._swept().abort()

    def end_sweep(self, reached: int) -> None:
        """Back to fixed-level sourcing; the driver's level is the last one reached."""
        self._swept().end(reached)

    def shutdown(self, steps: int = 10, step_delay: float = 0.0) -> None:
        """Leave the instrument safe: the level ramped to zero in ``steps``, output off;
        bounded against an instrument that stopped answering (:meth:`SafeEnd.shutdown`)."""
        self._end.shutdown(steps, step_delay)

    def stop_runs(self, reason: str = "its instrument was closed", timeout: float = 60.0) -> None:
        """Stop a run in progress on this driver object and wait until it has let go."""
        self._end.stop_runs(reason, timeout)

    def close(self) -> None:
        """Stop a run in progress on this driver (it turns its output off), then close; the
        driver that opened the instrument closes every channel's first, then the connection."""
        opener = self._channels.opener is self
        self._end.close(self.family()[1:] if opener else [], opener=opener)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop a run in progress on it, shut down and close (on a multi-channel instrument
        every channel, channel 1 last); a shutdown failure never hides the error raised."""
        self._end.exit(self.family() if self._channels.opener is self else [self], exc)
