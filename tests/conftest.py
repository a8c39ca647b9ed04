"""Fixtures: every test gets its own simulated instrument (a fresh twin per open)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labrun.drivers import SourceMeter, open_sourcemeter

from .support import BENCH


@pytest.fixture(params=sorted(BENCH))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def smu(model: str) -> Iterator[SourceMeter]:
    driver = open_sourcemeter(model, BENCH[model], sim=True, timeout=1.0)
    yield driver
    driver.close()
