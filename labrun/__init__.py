"""labrun: drive lab source-meters from scripts, notebooks and YAML experiments.

Where each concern lives (imports go downward only):

- ``labrun.open_run(id)``: a past run as an ``xarray.Dataset`` (its record in the attrs);
  ``labrun.open_sequence(id)``: a sequence's runs as one Dataset, its keys as coordinates;
- ``labrun.experiments``: the experiment model and the experiments (IV sweep, time trace),
  with its rooms: ``engine`` (how a run runs), ``storage`` (tables and data files),
  ``config`` (YAML experiment files), ``views`` (live plots, images) and ``cli``;
- ``labrun.analysis``: CPU-heavy analysis in separate processes;
- ``labrun.drivers``: how an instrument is spoken to;
- ``labrun.sim_devices``: the simulated twins, in-process or served on the network.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("labrun")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "unknown"

if TYPE_CHECKING:
    from labrun.experiments.storage.dataset import open_data_file, open_run
    from labrun.experiments.storage.sequences import open_sequence

#: reading runs back (xarray, the catalog) is imported on first use: ``import labrun`` stays cheap
_READING = ("open_run", "open_data_file", "open_sequence")


def __getattr__(name: str) -> Any:
    if name in _READING:
        from labrun.experiments import storage

        return getattr(storage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "open_data_file", "open_run", "open_sequence"]
