"""labrun: drive lab source-meters from scripts, notebooks and YAML experiments.

Where each concern lives (imports go downward only):

- ``labrun.experiments``: the experiment model and the experiments (IV sweep, time trace),
  with its rooms: ``engine`` (how a run runs), ``storage`` (tables and data files),
  ``config`` (YAML experiment files), ``views`` (live plots, images) and ``cli``;
- ``labrun.analysis``: CPU-heavy analysis in separate processes;
- ``labrun.drivers``: how an instrument is spoken to;
- ``labrun.sim_devices``: the simulated twins, in-process or served on the network.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labrun")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "unknown"

__all__ = ["__version__"]
