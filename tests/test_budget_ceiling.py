"""A budget is a ceiling by construction: spend never exceeds it, whatever the answers' length or the script."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest
from aiohttp import web

import bfnb as bf
from bfnb.op import AskLLM, FromList

ANSWER_TOKENS = 2_000


class LongWinded:
    """An OpenAI-compatible server over 127.0.0.1 that answers ANSWER_TOKENS tokens (fewer if capped)
    and counts prompt tokens as UTF-8 bytes + 4 per message: the most a tokenizer could count."""

    def __init__(self) -> None:
        self.requests = 0
        self.max_tokens_seen: list[int | None] = []
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def chat(request: web.Request) -> web.Response:
            body = await request.json()
            self.requests += 1
            cap = body.get("max_completion_tokens") or body.get("max_tokens")
            self.max_tokens_seen.append(cap)
            out = min(ANSWER_TOKENS, cap) if cap else ANSWER_TOKENS
            prompt = sum(len(str(m["content"]).encode()) + 4 for m in body["messages"])
            return web.json_response({
                "id": "x", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "word " * out}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out},
            })  # fmt: skip

        async def start() -> None:
            app = web.Application()
            app.add_routes([web.post("/v1/chat/completions", chat)])
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
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


@pytest.fixture
def long_winded(monkeypatch):
    srv = LongWinded()
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    yield srv
    srv.stop()


def _spent(project: str) -> float:
    led = bf.ProjectFolder(project, 1, 0, 0).ledger.to_pandas()
    return float(led["cost_usd"].sum()) if len(led) else 0.0


@pytest.mark.parametrize(
    "prompt", ["Write an essay about topic {i}.", "写一篇关于第{i}个主题的长文，越详细越好。" * 20]
)
def test_spend_never_exceeds_the_budget(long_winded, capsys, prompt):
    with bf.ProjectFolder("ceiling", 1, 0, 0):
        g = FromList([{"i": i} for i in range(300)]) | AskLLM(prompt, model="gpt-4o-mini@openai")
    out = g.run(budget_usd=0.01)
    spent = _spent("ceiling")
    assert 0 < spent <= 0.01  # a ceiling: was 4x over when 512 output tokens were assumed
    assert 0 < long_winded.requests < 300
    assert set(long_winded.max_tokens_seen) == {4096}  # bfnb set the max tokens the reservation assumed
    captured = capsys.readouterr()
    pending = int((out["status"] == "pending").sum())
    assert pending == 300 - long_winded.requests
    assert f"stopped by budget: {pending:,} pending, $" in captured.out and "of $0.0100" in captured.out
    assert captured.err.count("capped at 4,096 output tokens") == 1  # said once


def test_the_cap_keeps_the_key_so_a_later_run_without_budget_reuses_the_answers(long_winded):
    with bf.ProjectFolder("ceiling", 1, 0, 0):
        g = FromList([{"i": i} for i in range(3)]) | AskLLM("Essay {i}", model="gpt-4o-mini@openai")
    g.run(budget_usd=1.0)
    assert long_winded.requests == 3
    with bf.ProjectFolder("ceiling", 1, 0, 0):  # another output field: the same requests, looked up in the ledger
        again = FromList([{"i": i} for i in range(3)]) | AskLLM("Essay {i}", model="gpt-4o-mini@openai", output_key="t")
    assert again.run()["status"].tolist() == ["done"] * 3
    assert long_winded.requests == 3


@pytest.mark.parametrize("bad", [math.nan, -0.01, "1", True])
def test_a_nan_or_negative_budget_is_refused_before_anything_runs(long_winded, bad):
    g = FromList([{"i": 1}]) | AskLLM("Essay {i}", model="gpt-4o-mini@openai")
    with pytest.raises(ValueError, match="budget"):
        g.run(budget_usd=bad)
    assert long_winded.requests == 0
