"""The experiment model: plain measurement logic, and each experiment's one declaration of
its parameters. It knows nothing of threads or files: the engine runs it.

``Experiment`` (the base), ``IVSweep``, ``TimeTrace``, ``GridSweep`` with its transistor
presets, the ``Parameters`` they are declared with, and quantities with units.
"""

from .experiment import Experiment
from .fet import fet_output, fet_transfer
from .grid_sweep import Axis, GridSweep, Terminal, levels_between
from .iv_sweep import IVSweep, IVSweepParameters
from .parameters import ParameterError, Parameters
from .time_trace import TimeTrace, TimeTraceParameters
from .units import to_si

__all__ = [
    "Axis",
    "Experiment",
    "GridSweep",
    "IVSweep",
    "IVSweepParameters",
    "ParameterError",
    "Parameters",
    "Terminal",
    "TimeTrace",
    "TimeTraceParameters",
    "fet_output",
    "fet_transfer",
    "levels_between",
    "to_si",
]
