"""The run engine: how an experiment runs (one run object, flag, locks, stop, queue, subscribers).

It runs anything shaped like :class:`Procedure` and never imports the experiments.
"""

from .delivery import Listener
from .procedure import AlreadyRunning, Procedure
from .progress import Point, Progress, State
from .queue import Worker, run_here, start
from .run import DELIVERY_GRACE, Run

__all__ = [
    "DELIVERY_GRACE",
    "AlreadyRunning",
    "Listener",
    "Point",
    "Procedure",
    "Progress",
    "Run",
    "State",
    "Worker",
    "run_here",
    "start",
]
