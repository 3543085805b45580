"""Fail before paying: an unwritable ledger, a missing key, an unknown model are found before the first request."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from aiohttp import web

import bfnb as bf
from bfnb.local.server import LocalServer
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


class ModelsServer:
    """127.0.0.1 endpoint that knows one model: GET /models/{id} is 404 for others; counts chat calls."""

    def __init__(self) -> None:
        self.chat_requests = 0
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def model(request: web.Request) -> web.Response:
            if request.match_info["id"] != "gpt-4o-mini":
                return web.json_response({"error": {"message": "model not found"}}, status=404)
            return web.json_response({"id": "gpt-4o-mini", "object": "model"})

        async def models(request: web.Request) -> web.Response:
            return web.json_response({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

        async def chat(request: web.Request) -> web.Response:
            self.chat_requests += 1
            return web.json_response({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})

        async def start() -> None:
            app = web.Application()
            app.add_routes([web.get("/v1/models", models), web.get("/v1/models/{id}", model), web.post("/v1/chat/completions", chat)])
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def test_an_unknown_model_fails_before_the_first_request(monkeypatch):
    srv = ModelsServer()
    try:
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
        g = FromList([{"w": "a"}, {"w": "b"}]) | AskLLM("About {w}", model="gpt-4o-mimi@openai")
        with pytest.raises(bf.ProviderError, match="has no model 'gpt-4o-mimi'"):
            g.run()
        assert srv.chat_requests == 0
        ok = (FromList([{"w": "a"}]) | AskLLM("About {w}", model="gpt-4o-mini@openai")).run()
        assert ok["status"].tolist() == ["done"] and srv.chat_requests == 1
    finally:
        srv.stop()


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
    with pytest.raises(TypeError, match="unknown keyword argument.*'budget'.*accepted: .*budget_usd"):
        g.run(budget=0.5)
    with pytest.raises(bf.BfnbError, match="accepted: .*local"):
        g.run(engine="nope")
