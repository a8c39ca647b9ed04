"""Fixtures: every test gets its own simulated instrument (a fresh twin per open); catalog
tests get a catalog of their own, SQLite in a temporary directory or a schema of their
own on a real PostgreSQL server (started once for the session, see ``postgres.py``)."""

from __future__ import annotations

import os
import pathlib
import shutil
import uuid
from collections.abc import Iterator

import pytest

from labrun.drivers import SourceMeter, open_sourcemeter

from .postgres import ENVIRONMENT, PostgresServer, in_schema
from .support import BENCH


@pytest.fixture(scope="session", autouse=True)
def own_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every run of the suite (and of the processes it starts) keeps its record in a
    catalog of the session's own, never in the user's."""
    url = f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'catalog.sqlite'}"
    before = os.environ.get("LABRUN_CATALOG")
    os.environ["LABRUN_CATALOG"] = url
    yield url
    if before is None:
        os.environ.pop("LABRUN_CATALOG", None)
    else:
        os.environ["LABRUN_CATALOG"] = before


@pytest.fixture(params=sorted(BENCH))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def smu(model: str) -> Iterator[SourceMeter]:
    driver = open_sourcemeter(model, BENCH[model], sim=True, timeout=1.0)
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL: ``$LABRUN_TEST_POSTGRES``, else one started for the session."""
    if url := os.environ.get(ENVIRONMENT):
        yield url
        return
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip(f"no PostgreSQL server can be started: initdb/pg_ctl not on PATH (or set ${ENVIRONMENT})")
    server = PostgresServer()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The server's URL with a schema of this test's own (dropped after it)."""
    import sqlalchemy as sa

    schema = f"labrun_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield in_schema(postgres_server, schema)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    """A new, empty catalog on each backend: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
