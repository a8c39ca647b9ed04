"""The instruments the panel's configs name, as the page shows them: model, address,
identity, output, and who holds each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labrun.drivers import SourceMeter, device_lock_for
from labrun.experiments.config import Config, StationConfig
from labrun.experiments.config.launch import instruments_of


@dataclass
class InstrumentView:
    """One instrument (or channel) as the page shows it."""

    model: str
    address: str
    channel: int
    simulated: bool
    identity: str = ""  # *IDN?, once a run has opened it
    output: str = "unknown"  # "on" / "off", as last read back from the instrument
    lock: Any = None  # its DeviceLock: busy and by whom, asked when shown
    driver: SourceMeter | None = None  # while a job has it open: its output as the run set it

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "address": self.address,
            "channel": self.channel,
            "simulated": self.simulated,
            "identity": self.identity or "not opened yet",
            "output": self._output(),
            "busy": bool(self.lock is not None and self.lock.busy),
            "holder": (self.lock.owner or "") if self.lock is not None and self.lock.busy else "",
        }

    def _output(self) -> str:
        """While a run has it, the output as the run last set it (asking would wait for
        the bus); otherwise as last read back from the instrument."""
        driver = self.driver
        if driver is not None:
            return "on" if driver.output_enabled else "off"
        return self.output


class Station:
    """Every instrument (or channel) by (address, channel)."""

    def __init__(self) -> None:
        self.views: dict[tuple[str, int], InstrumentView] = {}

    def __getitem__(self, key: tuple[str, int]) -> InstrumentView:
        return self.views[key]

    def note(self, parsed: Config | StationConfig) -> None:
        """Show the instruments a config names (before any run has opened them)."""
        for inst, channel, lock in _instruments_of(parsed):
            self.views.setdefault(
                (inst.address, channel),
                InstrumentView(inst.model, inst.address, channel, inst.sim, lock=lock),
            )

    def seen(self, drivers: dict[str, SourceMeter]) -> None:
        """A job has these open: their identity and output, asked."""
        for smu in drivers.values():
            view = self.views.get((str(smu.instrument.resource.resource_name), smu.channel_number))
            if view is None:
                continue
            view.driver = None
            view.identity = view.identity or smu.identify()
            view.output = "on" if smu.is_output_on() else "off"
            view.driver = smu

    def let_go(self) -> None:
        """The job closed its instruments."""
        for view in self.views.values():
            view.driver = None

    def summary(self) -> list[dict[str, Any]]:
        return [view.summary() for view in self.views.values()]


def _instruments_of(parsed: Config | StationConfig) -> list[tuple[Any, int, Any]]:
    """(instrument config, channel, its device lock) of each instrument a config drives."""
    return [
        (inst, channel, device_lock_for(inst.address, simulated=inst.sim, channel=channel))
        for inst, channel in instruments_of(parsed)
    ]
