"""From a validated config to a running sweep: open the instrument, build, save, plot."""

from __future__ import annotations

import contextlib
import functools
import pathlib
from collections.abc import Iterator
from typing import Any

from labrun.drivers import SourceMeter, open_sourcemeter
from labrun.experiments.config import Config, InstrumentConfig, IVSweepConfig
from labrun.experiments.experiment import Experiment
from labrun.experiments.iv_sweep import IVSweep
from labrun.experiments.storage import Saving
from labrun.experiments.time_trace import TimeTrace
from labrun.experiments.views.plot import plot_columns
from labrun.sim_devices import bench_in_memory


@contextlib.contextmanager
def open_instrument(config: InstrumentConfig, mode: str = "voltage") -> Iterator[SourceMeter]:
    """The configured instrument, its settings applied for an experiment in ``mode``,
    closed (output off first) when the block ends.

    A simulated one is described to the ``@labrun`` backend as a one-instrument bench in
    memory, so any address and any load work through pyvisa's public mechanism.
    """
    connect = functools.partial(
        open_sourcemeter,
        config.model,
        config.address,
        timeout=config.timeout,
        termination=config.end_of_message,
        baud_rate=config.baud_rate,
        force_model=config.force_model,
    )
    if not config.sim:
        smu = connect(backend=config.backend)
    else:
        smu = connect(sim=bench_in_memory([config.bench_entry()]))
    smu.compliance_advice = "raise experiment.compliance in the config"
    with smu:
        for name, value in config.settings_for(mode):
            setattr(smu, name, value)  # each written, confirmed and read back
        yield smu


def build_experiment(
    config: Config, smu: SourceMeter, raw: dict[str, Any] | None = None
) -> IVSweep | TimeTrace:
    """The experiment a config describes, saving where it says, with the config in the file."""
    limits = config.instrument.limits
    kind = IVSweep if isinstance(config.experiment, IVSweepConfig) else TimeTrace
    return kind(
        smu,
        **config.experiment.kwargs(),
        max_voltage=limits.max_voltage,
        max_current=limits.max_current,
        save=Saving(
            directory=config.save.directory,
            stem=config.save.name or config.experiment.type,
            metadata={"config": raw if raw is not None else config.model_dump(mode="json")},
        ),
    )


def save_plot(experiment: Experiment) -> pathlib.Path | None:
    """The PNG next to the data file (None if nothing was saved or measured)."""
    if experiment.data_file is None or len(experiment.table) == 0:
        return None
    path = experiment.data_file.path.with_suffix(".png")
    x, y = experiment.plot_axes
    plot_columns(
        experiment.data, path, x=x, y=y, units=experiment.columns, title=experiment.data_file.path.stem
    )
    return path
