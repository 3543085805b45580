"""The broker tests use the shared ``server`` with its fault sequence seeded as they expect."""

from __future__ import annotations

import pytest

from bfnb.local.httpserver import LocalServer


@pytest.fixture
def server(server: LocalServer) -> LocalServer:
    server.configure(seed=7)
    return server
