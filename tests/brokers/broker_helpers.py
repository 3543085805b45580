"""Helpers of the broker tests: job builders, a resolved model at a LocalServer, run on bfnb's loop."""

from __future__ import annotations

from typing import Any

from bfnb.brokers import Job, Retry
from bfnb.brokers.providers import Provider, ResolvedModel
from bfnb.executor.loop import run_sync
from bfnb.local.httpserver import LocalServer

SECRET = "sk-test-0123456789abcdef-SECRET"
FAST_RETRY = Retry(max_attempts=6, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=10.0)


def resolved(srv: LocalServer, model: str = "gpt-4o-mini") -> ResolvedModel:
    """A model at the test server, with a bearer key that must never show up anywhere."""
    return ResolvedModel(model, Provider("testsrv", srv.url, None, kind="local"), SECRET)


def chat_job(i: Any, *, max_tokens: int = 16, op: str = "test") -> Job:
    text = f"Write a line about item {i}."
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens}
    return Job(
        f"key-{i}",
        "chat",
        body,
        est_input_tokens=len(text) // 4 + 4,
        max_output_tokens=max_tokens,
        op=op,
        origin={"op": op, "idx": str(i)},
    )


def chat_jobs(n: int, **kw: Any) -> list[Job]:
    return [chat_job(i, **kw) for i in range(n)]


def run(coro: Any) -> Any:
    """Run a coroutine on bfnb's own event-loop thread, as the executor does."""
    return run_sync(coro)
