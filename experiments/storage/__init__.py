"""Storage: the in-memory table of a run, its data file, and reading data files back."""

from .files import DataFile, DataFileLost, unique_path
from .loading import LoadedData, load_data
from .saving import Saving
from .table import Array, DataTable

__all__ = [
    "Array",
    "DataFile",
    "DataFileLost",
    "DataTable",
    "LoadedData",
    "Saving",
    "load_data",
    "unique_path",
]
