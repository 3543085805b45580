from __future__ import annotations

import pytest

from bfnb.local.server import LocalServer


@pytest.fixture
def server(monkeypatch):
    """The package's OpenAI-compatible server, reached through the openai provider path (real HTTP)."""
    with LocalServer().start() as s:
        monkeypatch.delenv("BFNB_OFFLINE", raising=False)
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        yield s
