"""Shared fixtures: every test runs in its own data folder, offline, with fresh process state.

``server`` is the one local OpenAI-compatible server fixture: the package's server on 127.0.0.1,
reached through the openai provider path (``OPENAI_BASE_URL`` points at it, with a fake key), so
tests get real HTTP through the same client path a real provider gets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bfnb.local.httpserver import LocalServer
from bfnb.testing import reset_state


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("BFNB_DATA_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("BFNB_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    reset_state()
    yield
    reset_state()


@pytest.fixture
def server(monkeypatch) -> Iterator[LocalServer]:
    """The package's OpenAI-compatible server, reached through the openai provider path (real HTTP)."""
    with LocalServer().start() as s:
        monkeypatch.delenv("BFNB_OFFLINE", raising=False)
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        yield s
