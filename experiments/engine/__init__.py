"""The run engine: how an experiment runs (one runner, one lifecycle, locks, stop, queue, subscribers).

It runs anything shaped like :class:`Procedure` and never imports the experiments.
"""

from .context import DELIVERY_GRACE, RunContext
from .delivery import Listener
from .pausing import PauseMode, PauseRefused
from .procedure import AlreadyRunning, Procedure
from .progress import Point, Progress
from .queue import Worker, run_here, start
from .recording import RecordOptions
from .run import Run
from .runner import RUNNER, Runner
from .states import IllegalTransition, RunState

__all__ = [
    "DELIVERY_GRACE",
    "RUNNER",
    "AlreadyRunning",
    "IllegalTransition",
    "Listener",
    "PauseMode",
    "PauseRefused",
    "Point",
    "Procedure",
    "Progress",
    "RecordOptions",
    "Run",
    "RunContext",
    "RunState",
    "Runner",
    "Worker",
    "run_here",
    "start",
]
