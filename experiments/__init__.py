"""The experiment model: measurement logic, run in the background, stoppable, observable.

``experiment.run()`` runs in the caller's thread; ``start(experiment)`` runs the same
code in the background and returns a :class:`Run` to poll, subscribe to, stop, wait on.
"""

from labrun.drivers import DeviceBusy

from .data import DataFile, DataTable, LoadedData, load_data
from .delivery import Point
from .experiment import AlreadyRunning, Experiment, Progress, Saving
from .iv_sweep import IVSweep
from .runner import Run, Worker, start

__all__ = [
    "AlreadyRunning",
    "DataFile",
    "DataTable",
    "DeviceBusy",
    "Experiment",
    "IVSweep",
    "LoadedData",
    "Point",
    "Progress",
    "Run",
    "Saving",
    "Worker",
    "load_data",
    "start",
]
