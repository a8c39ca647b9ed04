"""From a validated config to a started run: the one launcher of the CLI and the panel.

:func:`launch` takes the instruments' device locks before anything is sent (a busy
instrument is refused untouched), opens the instruments and applies their settings,
builds the experiment, and :meth:`Launch.start` hands those same locks to the run (never
released and taken again). The instruments are closed (outputs off) when the block ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from labrun.drivers import DeviceLock, SourceMeter, device_lock_for, open_sourcemeter
from labrun.experiments.config import Config, InstrumentConfig, IVSweepConfig
from labrun.experiments.config.station import StationConfig
from labrun.experiments.engine import RUNNER, RecordOptions, Run
from labrun.experiments.engine.claims import release_all
from labrun.experiments.model.experiment import Experiment
from labrun.experiments.model.fet import fet_output, fet_transfer
from labrun.experiments.model.grid_sweep import GridSweep
from labrun.experiments.model.iv_sweep import IVSweep
from labrun.experiments.model.time_trace import TimeTrace
from labrun.experiments.storage import Saving
from labrun.experiments.views.plot import plot_columns
from labrun.sim_devices import bench_in_memory


def instruments_of(config: Config | StationConfig) -> list[tuple[InstrumentConfig, int]]:
    """Each instrument (or channel) a config drives, with its channel: a station's by
    name, or the one instrument of a one-instrument config."""
    if isinstance(config, StationConfig):
        return [(inst, inst.channel) for inst in config.station.values()]
    return [(config.instrument, 1)]


def instrument_locks(config: Config | StationConfig) -> list[DeviceLock]:
    """The device locks (instruments', channels') a config's run takes, in the global order."""
    wanted = {
        device_lock_for(inst.address, simulated=inst.sim, channel=channel)
        for inst, channel in instruments_of(config)
    }
    return sorted(wanted, key=lambda lock: lock.name)


def take_locks(config: Config | StationConfig, owner: str) -> list[DeviceLock]:
    """Every instrument's (channel's) device lock, at once or not at all (``DeviceBusy``
    naming the holder): taken before anything is sent, so a busy instrument is refused
    untouched."""
    taken: list[DeviceLock] = []
    try:
        for lock in instrument_locks(config):
            lock.acquire(owner, blocking=False)
            taken.append(lock)
    except BaseException:
        release_all(taken)
        raise
    return taken


def connect(config: InstrumentConfig, bench: str) -> SourceMeter:
    """The configured instrument, opened: a simulated one on ``bench`` (a bench in memory),
    a real one through its configured VISA backend."""
    return open_sourcemeter(
        config.model,
        config.address,
        sim=bench if config.sim else False,
        backend="" if config.sim else config.backend,
        timeout=config.timeout,
        termination=config.end_of_message,
        baud_rate=config.baud_rate,
        force_model=config.force_model,
    )


def apply_settings(smu: SourceMeter, config: InstrumentConfig, mode: str) -> None:
    """The config's instrument settings for an experiment in ``mode``, in order, each
    written, confirmed and read back."""
    for setting, value in config.settings_for(mode, smu.setting_table()):
        setting.write(smu, value)


@contextlib.contextmanager
def open_instrument(config: InstrumentConfig, mode: str = "voltage") -> Iterator[SourceMeter]:
    """The configured instrument, its settings applied for an experiment in ``mode``,
    closed (output off first) when the block ends.

    A simulated one is described to the ``@labrun`` backend as a one-instrument bench in
    memory, so any address and any load work through pyvisa's public mechanism.
    """
    smu = connect(config, bench_in_memory([config.bench_entry()]) if config.sim else "")
    smu.compliance_advice = "raise experiment.compliance in the config"
    with smu:
        apply_settings(smu, config, mode)
        yield smu


@contextlib.contextmanager
def open_station(config: StationConfig) -> Iterator[dict[str, SourceMeter]]:
    """The station's instruments by name, each with its settings applied; channels of one
    instrument share one connection. Closed (every output off) when the block ends.

    The simulated ones are one bench in memory, with the circuit wired between them.
    """
    entries, circuits = config.bench()
    bench = bench_in_memory(entries, circuits) if entries else ""
    drivers: dict[str, SourceMeter] = {}
    with contextlib.ExitStack() as stack:
        opened: dict[str, SourceMeter] = {}  # by address: the driver that opened it
        for name, inst in config.station.items():
            if inst.address not in opened:
                opened[inst.address] = stack.enter_context(connect(inst, bench))
            channel = opened[inst.address].channel(inst.channel)
            channel.compliance_advice = f"raise experiment's compliance for {name} in the config"
            apply_settings(channel, inst, "voltage")
            drivers[name] = channel
        yield drivers


def build_grid(
    config: StationConfig, drivers: dict[str, SourceMeter], raw: dict[str, Any] | None = None
) -> GridSweep:
    """The transistor experiment a station config describes, on its named instruments
    (each level was checked against its instrument's and your limits with the config)."""
    exp = config.experiment
    preset = fet_output if exp.type == "fet_output" else fet_transfer
    return preset(
        drivers[exp.instrument_of("gate")],
        drivers[exp.instrument_of("drain")],
        gate_levels=exp.gate.values(),
        drain_levels=exp.drain.values(),
        gate_compliance=exp.gate.compliance[0],
        drain_compliance=exp.drain.compliance[0],
        delay=exp.delay,
        sweep=exp.sweep,
        poll_interval=exp.poll_interval,
        pause=exp.pause,
        save=saving(config, raw),
    )


def saving(config: Config | StationConfig, raw: dict[str, Any] | None = None) -> Saving:
    """Where a config's run saves, named after its experiment, with the config (as written,
    if given) in the file."""
    return Saving(
        directory=config.save.directory,
        stem=config.save.name or config.experiment.type,
        metadata={"config": raw if raw is not None else config.model_dump(mode="json")},
        write_interval=config.save.write_interval,
    )


def build_experiment(
    config: Config, smu: SourceMeter, raw: dict[str, Any] | None = None
) -> IVSweep | TimeTrace:
    """The experiment a config describes, saving where it says, with the config in the file."""
    limits = config.instrument.limits
    options: dict[str, Any] = {
        "max_voltage": limits.max_voltage,
        "max_current": limits.max_current,
        "save": saving(config, raw),
    }
    if isinstance(config.experiment, IVSweepConfig):
        return IVSweep(smu, config.experiment, **options)
    return TimeTrace(smu, config.experiment, **options)


def save_plot(experiment: Experiment) -> pathlib.Path | None:
    """The PNG next to the data file (None if nothing was saved or measured)."""
    if experiment.data_file is None or len(experiment.table) == 0:
        return None
    path = experiment.data_file.path.with_suffix(".png")
    x, y = experiment.plot_axes
    plot_columns(
        experiment.data,
        path,
        x=x,
        y=y,
        units=experiment.columns,
        title=experiment.data_file.path.stem,
        family=experiment.family,
        log_current=experiment.log_current,
    )
    return path


@dataclass
class Launch:
    """A config's run, before and after it starts: its experiment, its open instruments
    (by station name; ``instrument`` for a one-instrument config), the locks it holds."""

    config: Config | StationConfig
    experiment: Experiment
    drivers: dict[str, SourceMeter]
    locks: list[DeviceLock] = field(default_factory=list)
    run: Run | None = None
    given: dict[str, Any] | None = None  # the config as given: its file, its text, overrides

    def start(self, record: RecordOptions | None = None) -> Run:
        """Start the run in the background, handing it the locks taken at launch; its
        record carries the config as given and as resolved (with every default)."""
        locks, self.locks = self.locks, []
        resolved = {"given": self.given, "resolved": self.config.model_dump(mode="json")}
        options = dataclasses.replace(record or RecordOptions(), config=resolved)
        self.run = RUNNER.start(self.experiment, blocking=False, claimed=locks, record=options)
        return self.run

    def save_plot(self) -> pathlib.Path | None:
        """The PNG beside the data file, if the config asks for one (None otherwise)."""
        return save_plot(self.experiment) if self.config.save.plot else None


@contextlib.contextmanager
def launch(
    config: Config | StationConfig,
    *,
    owner: str,
    raw: dict[str, Any] | None = None,
    given: dict[str, Any] | None = None,
) -> Iterator[Launch]:
    """The config's instruments locked, opened and set, its experiment built; call
    ``start()`` on what it yields. On leaving the block the instruments are closed (a run
    still going is stopped first, outputs ramped down and off) and locks not handed to a
    run are given back. ``DeviceBusy`` (naming the holder) before anything is sent."""
    launched: Launch | None = None
    locks = take_locks(config, owner)
    try:
        with contextlib.ExitStack() as instruments:
            experiment: Experiment
            if isinstance(config, StationConfig):
                drivers = instruments.enter_context(open_station(config))
                experiment = build_grid(config, drivers, raw)
            else:
                smu = instruments.enter_context(open_instrument(config.instrument, config.experiment.mode))
                drivers = {"instrument": smu}
                experiment = build_experiment(config, smu, raw)
            launched = Launch(config, experiment, drivers, locks, given=given)
            yield launched
    finally:
        release_all(launched.locks if launched is not None else locks)
