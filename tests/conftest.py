"""Shared fixtures: every test runs in its own data folder, offline, with a fresh memo."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("BFNB_DATA_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("BFNB_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    from bfnb import project
    from bfnb.executor.memo import memo

    memo.clear()
    project._last.clear()
    yield
    memo.clear()
    project._last.clear()
