"""The catalog's tables, and one way to open a database for them (SQLite or PostgreSQL).

Why these columns: what a person filters on (experiment, status, time, host, user,
sequence, instrument, tag) is a column with an index; the rest of the record is one JSON
value written once, at the start. The end is a handful of columns updated once, so ending
a run never rewrites the record.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

#: bumped when the tables change; kept in ``catalog_info`` for a later migration
SCHEMA_VERSION = "1"
#: seconds a writer waits for another process's transaction before giving up (SQLite)
BUSY_TIMEOUT = 30.0
#: the environment variable naming the catalog (a SQLAlchemy URL)
ENVIRONMENT = "LABRUN_CATALOG"

metadata = sa.MetaData()
#: None is SQL NULL (not the JSON text 'null', which every read would decode)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("experiment", sa.String(200), nullable=False, index=True),
    sa.Column("started", sa.String(40), nullable=False),  # ISO 8601, as the record says
    sa.Column("started_at", sa.Float, nullable=False, index=True),  # its epoch seconds: order, since
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False, default=""),
    sa.Column("user_name", sa.String(255), nullable=False, default=""),
    sa.Column("pid", sa.Integer, nullable=False, default=0),
    sa.Column("data_file", sa.Text, nullable=True),
    sa.Column("sequence_id", sa.String(64), nullable=True, index=True),
    sa.Column("note", sa.Text, nullable=False, default=""),
    # what a list shows of the instruments (the first's model and address, how many): a
    # listing then reads this table alone
    sa.Column("instrument", sa.String(400), nullable=False, default=""),
    sa.Column("instrument_count", sa.Integer, nullable=False, default=0),
    # the end: None until the run ends
    sa.Column("stopped_by", sa.Text, nullable=True),
    sa.Column("error", JSON, nullable=True),
    sa.Column("ended", sa.String(40), nullable=True),
    sa.Column("points", sa.Integer, nullable=True),
    sa.Column("pauses", JSON, nullable=True),  # [{paused, resumed, by, mode, after}] if it paused
    # the record as at the start (without end, tags and note: their columns hold them)
    sa.Column("record", JSON, nullable=False),
)

run_instruments = sa.Table(
    "run_instruments",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("role", sa.String(64), nullable=False, default=""),
    sa.Column("model", sa.String(100), nullable=False, default="", index=True),
    sa.Column("name", sa.String(200), nullable=False, default="", index=True),
    sa.Column("address", sa.String(300), nullable=False, default="", index=True),
)

run_tags = sa.Table(
    "run_tags",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(200), primary_key=True, index=True),
)

catalog_info = sa.Table(
    "catalog_info",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def default_url() -> str:
    """``$LABRUN_CATALOG``, else a SQLite file in the user's data directory (made if needed)."""
    if url := os.environ.get(ENVIRONMENT):
        return url
    import platformdirs

    directory = pathlib.Path(platformdirs.user_data_dir("labrun", appauthor=False))
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'catalog.sqlite'}"


def open_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite: WAL (readers never wait for the writer) without an
    fsync per commit, a busy timeout, and ``BEGIN IMMEDIATE`` for writes, so two processes
    writing at once queue instead of one failing with "database is locked" (a deferred
    transaction that reads and then writes cannot wait for the lock; an immediate one can)."""
    if not url.startswith("sqlite"):
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as missing:
            extra = ' (pip install "labrun[postgres]")' if url.startswith("postgresql") else ""
            raise ValueError(f"a catalog at {url.split('://')[0]}:// needs {missing.name}{extra}") from None
    location = sa.make_url(url).database
    if location and location != ":memory:":
        pathlib.Path(location).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT})

    @sa.event.listens_for(engine, "connect")
    def connect(connection: Any, record: Any) -> None:
        connection.isolation_level = None  # the transactions are begun below, not by the driver
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # a commit is in the OS at once (a killed process loses nothing) and on the disk at the
        # next checkpoint: the journal's own durability. FULL fsyncs every commit, and on ext4
        # that flushes the run's journal pages too: 8-10 ms a transaction after a sweep, not 0.6
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get("labrun_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def create_schema(connection: sa.Connection) -> None:
    """The tables, if they are not there yet: safe when two processes open a new catalog
    at once (SQLite: inside the writer's lock; PostgreSQL: under an advisory lock)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(727172)"))  # 'labrun catalog'
    metadata.create_all(connection, checkfirst=True)
    if connection.execute(sa.select(catalog_info.c.value).where(catalog_info.c.key == "schema")).first():
        return
    connection.execute(catalog_info.insert().values(key="schema", value=SCHEMA_VERSION))
