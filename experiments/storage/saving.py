"""How a run is saved: where its data file goes and what metadata it carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .files import DataFile


@dataclass
class Saving:
    """Where and how a run's data file is written."""

    directory: str = "data"
    stem: str | None = None  # file name start; the experiment's name by default
    metadata: dict[str, Any] = field(default_factory=dict)
    #: seconds: at most one write to the OS per interval, rows in between batched (0: each
    #: row at once, whatever the pace; see ``DataFile``)
    write_interval: float = DataFile.WRITE_INTERVAL

    def open(self, name: str, columns: Mapping[str, str], metadata: Mapping[str, Any]) -> DataFile:
        """A new data file for a run of ``name``: the run's metadata, then the user's own."""
        return DataFile.create(
            self.directory,
            self.stem or name,
            tuple(columns),
            {**metadata, **self.metadata},
            write_interval=self.write_interval,
        )
