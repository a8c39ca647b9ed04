"""The run catalog: every run's record in a database (SQLite by default, PostgreSQL shared)."""

from .catalog import Catalog, shared_catalog
from .listing import NoSuchRun, RunNotFound, RunSummary
from .schema import ENVIRONMENT, default_url
from .when import since_epoch

__all__ = [
    "ENVIRONMENT",
    "Catalog",
    "NoSuchRun",
    "RunNotFound",
    "RunSummary",
    "default_url",
    "shared_catalog",
    "since_epoch",
]
