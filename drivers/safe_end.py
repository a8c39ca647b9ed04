"""How a source-meter driver ends: ramped down and off, its run stopped, closed — bounded
against an instrument that stopped answering (a part of ``SourceMeter``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from . import at_exit
from .errors import InstrumentError, InstrumentTimeout
from .instrument import Instrument
from .locks import DeviceLock
from .state import LEVEL, OUTPUT_ENABLED, SourceControl
from .sweeps import InstrumentSweep

logger = logging.getLogger("labrun.drivers.sourcemeter")


class Ending(at_exit.LeftOpen, SourceControl, Protocol):
    """What a safe end needs of its source-meter (and of the other channels' drivers it
    ends with it): its source state, its connection and device lock, and the ways out of
    each driver."""

    @property
    def instrument(self) -> Instrument: ...
    @property
    def device_lock(self) -> DeviceLock: ...
    def stop_runs(self, reason: str = ..., timeout: float = ...) -> None: ...
    def shutdown(self, steps: int = ..., step_delay: float = ...) -> None: ...
    def close(self) -> None: ...


class SafeEnd:
    """Shutdown, stop_runs, close and the context manager's exit, for one driver."""

    def __init__(self, driver: Ending, sweep: InstrumentSweep | None) -> None:
        self.driver, self.sweep = driver, sweep

    def shutdown(self, steps: int = 10, step_delay: float = 0.0) -> None:
        """Leave the instrument safe: ramp the level to zero in ``steps``, output off.

        The output is turned off even if the ramp fails; the ramp's error is raised after.
        Bounded against an instrument that stopped answering: from its first timeout (or
        at once, if the last query timed out already) the rest of the ramp and the
        output-off are sent once each without waiting for confirmations, and the timeout
        is raised saying the output state is unknown. No further timeout is waited for.
        """
        driver, instrument = self.driver, self.driver.instrument
        sweep = self.sweep
        if sweep is not None and sweep.running and instrument.responsive:  # a sweep left running
            try:
                sweep.abort()
                sweep.end(len(sweep.levels))
            except InstrumentError as error:
                logger.error("%s: stopping its sweep before the shutdown failed: %s", driver.name, error)
        silent: InstrumentTimeout | None = None
        if not instrument.responsive:
            silent = InstrumentTimeout(driver.name, "shutdown", "the instrument stopped answering before it")
        try:
            with instrument.io_lock:
                start = driver.level
                setter = driver.scpi.voltage_level if driver.mode == "voltage" else driver.scpi.current_level
                for k in range(steps - 1, -1, -1):
                    value = start * k / steps
                    try:
                        instrument.write(setter.format(value=value), check=silent is None)
                    except InstrumentTimeout as error:
                        silent = error  # sent, unconfirmed: the rest goes unconfirmed too
                    LEVEL.keep(driver, value)
                    if step_delay:
                        time.sleep(step_delay)
        except InstrumentError:
            driver.output_off()  # confirmed: the instrument answers, it refused a ramp step
            raise
        if silent is None:
            driver.output_off()
            return
        try:
            instrument.write(driver.scpi.output_off, check=False)
            sent = "ramp and output-off sent without confirmation"
        except InstrumentError as off_error:
            sent = f"output-off could not be sent ({off_error.detail})"
        OUTPUT_ENABLED.keep(driver, False)  # what the driver last sent: asking again would wait again
        silent.add_note(f"{driver.name}: {sent}: the output state is unknown")
        raise silent

    def stop_runs(self, reason: str = "its instrument was closed", timeout: float = 60.0) -> None:
        """Stop a run in progress on this driver object and wait until it has let go."""
        owner = self.driver.device_lock.stop_holder(self.driver, reason, timeout=timeout)
        if owner is not None:
            logger.warning("%s: stopped %s, which was still running (%s)", self.driver.name, owner, reason)

    def close(self, others: Sequence[Ending], *, opener: bool) -> None:
        """Stop a run in progress on the driver (it turns its output off), then close.

        ``others``: the other channels' drivers, closed first by the driver that opened the
        instrument (``opener``), which then closes the connection.
        """
        try:
            for channel in reversed(others):
                channel.close()
            self.stop_runs()
        finally:
            at_exit.open_drivers.discard(self.driver)
            if opener:
                self.driver.instrument.close()

    def exit(self, ending: Sequence[Ending], exc: BaseException | None) -> None:
        """Stop a run in progress on each driver of ``ending`` and shut it down (the last
        first: channel 1 last), then close; a shutdown failure never hides the error
        already raised (``exc``), nor stops the other channels' shutdowns."""
        failed: Exception | None = None
        try:
            for driver in reversed(ending):
                try:
                    driver.stop_runs()
                    if driver.output_enabled:
                        driver.shutdown()
                except Exception as error:
                    logger.error("%s: shutdown on exit failed: %s", driver.name, error)
                    if exc is not None:
                        exc.add_note(f"{driver.name}: shutdown on exit also failed: {error}")
                    failed = failed or error
        finally:
            self.driver.close()
        if failed is not None and exc is None:
            raise failed
