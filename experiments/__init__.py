"""The experiment model: measurement logic, run in the background, stoppable, observable.

``experiment.run()`` runs in the caller's thread; ``start(experiment)`` runs the same
code in the background and returns a :class:`Run` to poll, subscribe to, stop, wait on.
The rooms: ``engine`` (how a run runs), ``storage`` (tables and data files), ``config``
(YAML experiment files), ``views`` (live plots and images), ``cli`` (the ``labrun`` command).
"""

from labrun.drivers import DeviceBusy

from .engine import AlreadyRunning, Point, Progress, Run, Worker, start
from .experiment import Experiment
from .iv_sweep import IVSweep
from .storage import DataFile, DataTable, LoadedData, Saving, load_data
from .time_trace import TimeTrace

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
    "TimeTrace",
    "Worker",
    "load_data",
    "start",
]
