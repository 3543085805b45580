"""Fail before paying: an unwritable ledger, a missing key, an unknown model are found before the first request."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import bfnb as bf
from bfnb.local.httpserver import LocalServer
from bfnb.op import AskLLM, FromList


def _immutable(path: Path, on: bool) -> bool:
    """Make ``path`` unwritable even for root (chattr +i); False where the file system cannot."""
    done = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    return done.returncode == 0


def test_a_read_only_ledger_fails_before_the_first_request(monkeypatch):
    ledger = bf.ProjectFolder("ro", 1, 0, 0).ledger  # the ledger file exists, as after an earlier run
    path = Path(ledger.path) / "calls.jsonl"
    assert path.exists()
    ledger.close()
    from bfnb import project

    project._ledgers.clear()  # the next run opens the file again, as a new process would
    if not shutil.which("chattr") or not _immutable(path, True):
        pytest.skip("cannot make a file read-only for this user here")
    try:
        with LocalServer().start() as server:
            monkeypatch.delenv("BFNB_OFFLINE")
            monkeypatch.setenv("OPENAI_BASE_URL", server.url)
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
            with bf.ProjectFolder("ro", 1, 0, 0):
                g = FromList([{"w": f"w{i}"} for i in range(64)]) | AskLLM("About {w}", model="gpt-4o-mini@openai")
            with pytest.raises(bf.LedgerError, match="read-only"):
                g.run()
            assert server.stats()["requests"] == 0  # was: 64 answers paid, then thrown away
    finally:
        _immutable(path, False)


def test_an_unknown_provider_or_malformed_model_fails_when_the_op_is_made():
    for model in ("gpt-4o-mini@nowhere", "gpt-4o-mini"):
        with pytest.raises(bf.BfnbError, match="provider"):
            AskLLM("About {w}", model=model)


def test_a_key_removed_after_the_op_was_made_fails_before_the_first_request(monkeypatch):
    with LocalServer().start() as server:
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
        g = FromList([{"w": "a"}]) | AskLLM("About {w}", model="gpt-4o-mini@openai")
        monkeypatch.delenv("OPENAI_API_KEY")
        with pytest.raises(bf.MissingAPIKeyError, match="OPENAI_API_KEY"):
            g.run()
        assert server.stats()["requests"] == 0


def test_an_unknown_run_keyword_or_engine_is_refused_listing_the_accepted_ones():
    g = FromList([{"w": "a"}]) | AskLLM("About {w}")
    with pytest.raises(TypeError, match=r"unknown keyword argument.*'budget'.*accepted: .*budget_usd"):
        g.run(budget=0.5)
    with pytest.raises(bf.BfnbError, match=r"accepted: .*local"):
        g.run(engine="nope")
