"""How a source-meter driver ends: ramped down and off, its run stopped, closed — bounded
against an instrument that stopped answering (a mixin of ``SourceMeter``)."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self

from . import at_exit
from .errors import InstrumentError, InstrumentTimeout

if TYPE_CHECKING:
    from .instrument import Instrument
    from .locks import DeviceLock
    from .sourcemeter import SourceMeter
    from .specs import Scpi
    from .state import SourceMode

logger = logging.getLogger("labrun.drivers.sourcemeter")


class SafeEnd:
    """Shutdown, stop_runs, close, and the context manager."""

    instrument: Instrument
    _level: float
    _output_enabled: bool
    _sweeping: bool
    _sweep_levels: list[float]

    scpi: ClassVar[Scpi]

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...
        @property
        def level(self) -> float: ...
        @property
        def mode(self) -> SourceMode: ...
        @property
        def output_enabled(self) -> bool: ...
        def output_off(self) -> None: ...
        def family(self) -> list[SourceMeter]: ...

        _parent: SourceMeter | None
        device_lock: DeviceLock

        def abort_sweep(self) -> None: ...
        def end_sweep(self, reached: int) -> None: ...

    def shutdown(self, steps: int = 10, step_delay: float = 0.0) -> None:
        """Leave the instrument safe: ramp the level to zero in ``steps``, output off.

        The output is turned off even if the ramp fails; the ramp's error is raised after.
        Bounded against an instrument that stopped answering: from its first timeout (or
        at once, if the last query timed out already) the rest of the ramp and the
        output-off are sent once each without waiting for confirmations, and the timeout
        is raised saying the output state is unknown. No further timeout is waited for.
        """
        if self._sweeping and self.instrument.responsive:  # a sweep left running: stop it first
            try:
                self.abort_sweep()
                self.end_sweep(len(self._sweep_levels))
            except InstrumentError as error:
                logger.error("%s: stopping its sweep before the shutdown failed: %s", self.name, error)
        silent: InstrumentTimeout | None = None
        if not self.instrument.responsive:
            silent = InstrumentTimeout(self.name, "shutdown", "the instrument stopped answering before it")
        try:
            with self.instrument.io_lock:
                start = self.level
                setter = self.scpi.voltage_level if self.mode == "voltage" else self.scpi.current_level
                for k in range(steps - 1, -1, -1):
                    value = start * k / steps
                    try:
                        self.instrument.write(setter.format(value=value), check=silent is None)
                    except InstrumentTimeout as error:
                        silent = error  # sent, unconfirmed: the rest goes unconfirmed too
                    self._level = value
                    if step_delay:
                        time.sleep(step_delay)
        except InstrumentError:
            self.output_off()  # confirmed: the instrument answers, it refused a ramp step
            raise
        if silent is None:
            self.output_off()
            return
        try:
            self.instrument.write(self.scpi.output_off, check=False)
            sent = "ramp and output-off sent without confirmation"
        except InstrumentError as off_error:
            sent = f"output-off could not be sent ({off_error.detail})"
        self._output_enabled = False  # what the driver last sent: asking again would wait again
        silent.add_note(f"{self.name}: {sent}: the output state is unknown")
        raise silent

    def stop_runs(self, reason: str = "its instrument was closed", timeout: float = 60.0) -> None:
        """Stop a run in progress on this driver object and wait until it has let go."""
        owner = self.device_lock.stop_holder(self, reason, timeout=timeout)
        if owner is not None:
            logger.warning("%s: stopped %s, which was still running (%s)", self.name, owner, reason)

    def close(self) -> None:
        """Stop a run in progress on this driver (it turns its output off), then close.

        A channel's driver lets go of its channel only; the driver that opened the
        instrument closes every channel's first, then the connection.
        """
        try:
            for channel in reversed(self.family()[1:] if self._parent is None else []):
                channel.close()
            self.stop_runs()
        finally:
            at_exit.open_drivers.discard(self)  # type: ignore[arg-type]  # a SourceMeter
            if self._parent is None:
                self.instrument.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop a run in progress on it, shut down and close (on a multi-channel instrument
        every channel, channel 1 last); a shutdown failure never hides the error already
        raised, nor stops the other channels' shutdowns."""
        failed: Exception | None = None
        try:
            for driver in reversed(self.family() if self._parent is None else [self]):
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
            self.close()
        if failed is not None and exc is None:
            raise failed
