"""Fixtures of the broker tests: a real LocalServer on 127.0.0.1, started per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bfnb.brokers import registry
from bfnb.local.server import LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer(seed=7).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    registry._clear()
    yield
    registry._clear()
