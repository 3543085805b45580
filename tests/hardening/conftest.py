"""Fixtures of the hardening corpus: hostile servers reached through AskLLM, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bfnb.brokers import registry
from bfnb.brokers.providers import _REGISTRY

KEY = "sk-proj-Hostile0123456789abcdefXYZ"  # not a real key; shaped like one so every redaction path is tested


@pytest.fixture(autouse=True)
def _fresh_brokers(monkeypatch) -> Iterator[None]:
    registry._clear()
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("HOSTILE_KEY", KEY)
    yield
    registry._clear()
    _REGISTRY.pop("hostile", None)
