"""The lean transport: real HTTP to the LocalServer, and its one translation of failures."""

from __future__ import annotations

import asyncio
import socket

import pytest
from broker_helpers import SECRET, run

from bfnb.brokers import transport
from bfnb.brokers.retry import FatalError, TransientError

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def test_post_checked_returns_the_answer_and_headers(server) -> None:
    server.configure(rpm=1000)
    seen = []
    data, headers = run(transport.post_checked(f"{server.url}/chat/completions", BODY,
                                               transport.auth_headers(SECRET), on_headers=seen.append))  # fmt: skip
    assert data["choices"][0]["message"]["content"] and headers["x-ratelimit-limit-requests"] == "1000"
    assert len(seen) == 1


def test_statuses_and_failures_are_translated(server) -> None:
    url = f"{server.url}/chat/completions"
    with pytest.raises(FatalError, match="HTTP 401"):  # no bearer key at all
        run(transport.post_checked(url, BODY, transport.auth_headers(None)))
    server.configure(fail_rate=1.0)
    with pytest.raises(TransientError, match="HTTP 50"):
        run(transport.post_checked(url, BODY, transport.auth_headers(SECRET)))
    server.configure(fail_rate=0.0, drop_rate=1.0)
    with pytest.raises(TransientError, match="connection"):
        run(transport.post_checked(url, BODY, transport.auth_headers(SECRET)))
    server.configure(drop_rate=0.0, latency_s=1.0)
    with pytest.raises(TransientError, match="timeout"):
        run(transport.post_checked(url, BODY, transport.auth_headers(SECRET), timeout_s=0.05))


def test_refused_connection_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with pytest.raises(TransientError, match="connection"):
        run(
            transport.post_checked(f"http://127.0.0.1:{port}/v1/chat/completions", BODY, transport.auth_headers(SECRET))
        )


def test_one_session_per_loop_and_aclose(server) -> None:
    async def two_calls() -> tuple[object, object]:
        a = transport.get_session()
        await transport.post_json(f"{server.url}/chat/completions", BODY, transport.auth_headers(SECRET))
        b = transport.get_session()
        await transport.aclose()
        return a, b

    a, b = asyncio.run(two_calls())
    assert a is b and a.closed
    assert run(_session_id()) == run(_session_id())  # bfnb's loop keeps its session between runs


async def _session_id() -> int:
    return id(transport.get_session())
