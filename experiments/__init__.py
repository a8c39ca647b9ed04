"""The experiment model: measurement logic, run in the background, stoppable, observable.

``experiment.run()`` runs in the caller's thread; ``start(experiment)`` runs the same
code in the background and returns a :class:`Run` to poll, subscribe to, stop, wait on.
The rooms: ``model`` (the experiments and their parameters), ``engine`` (how a run runs),
``storage`` (tables, data files, the run catalog), ``config`` (YAML experiment files),
``views`` (live plots and images), ``cli`` (the ``labrun`` command), ``panel`` (the browser).
"""

from labrun.drivers import DeviceBusy

from .engine import AlreadyRunning, Point, Progress, Run, Worker, start
from .model import (
    Experiment,
    GridSweep,
    IVSweep,
    ParameterError,
    TimeTrace,
    fet_output,
    fet_transfer,
    levels_between,
)
from .storage import DataFile, DataTable, LoadedData, Saving, load_data

__all__ = [
    "AlreadyRunning",
    "DataFile",
    "DataTable",
    "DeviceBusy",
    "Experiment",
    "GridSweep",
    "IVSweep",
    "LoadedData",
    "ParameterError",
    "Point",
    "Progress",
    "Run",
    "Saving",
    "TimeTrace",
    "Worker",
    "fet_output",
    "fet_transfer",
    "levels_between",
    "load_data",
    "start",
]
