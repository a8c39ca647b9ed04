"""Storage: the in-memory table of a run, its data file (the journal), reading data files
back, the run's record, and the catalog of runs.

The catalog, xarray and event-model parts load on first use (``storage.Catalog``,
``storage.open_run``, ...): a run that keeps no catalog never imports SQLAlchemy.
"""

from typing import TYPE_CHECKING, Any

from .files import END_PREFIX, DataFile, DataFileLost, end_line, unique_path
from .loading import LoadedData, load_data
from .record import RunEnd, RunRecord, journal_metadata
from .saving import Saving
from .table import Array, DataTable

if TYPE_CHECKING:
    from .catalog import Catalog, RunNotFound, shared_catalog
    from .dataset import dataset_of, open_data_file, open_run
    from .documents import DocumentStream, documents_of
    from .export import export_run
    from .sequences import export_sequence, open_sequence

#: name -> the module (in this package) that defines it, imported when first asked for
LAZY = {
    "Catalog": "catalog",
    "RunNotFound": "catalog",
    "shared_catalog": "catalog",
    "dataset_of": "dataset",
    "open_data_file": "dataset",
    "open_run": "dataset",
    "DocumentStream": "documents",
    "documents_of": "documents",
    "export_run": "export",
    "export_sequence": "sequences",
    "open_sequence": "sequences",
}


def __getattr__(name: str) -> Any:
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{LAZY[name]}", __name__), name)


__all__ = [
    "END_PREFIX",
    "Array",
    "Catalog",
    "DataFile",
    "DataFileLost",
    "DataTable",
    "DocumentStream",
    "LoadedData",
    "RunEnd",
    "RunNotFound",
    "RunRecord",
    "Saving",
    "dataset_of",
    "documents_of",
    "end_line",
    "export_run",
    "export_sequence",
    "journal_metadata",
    "load_data",
    "open_data_file",
    "open_run",
    "open_sequence",
    "shared_catalog",
    "unique_path",
]
