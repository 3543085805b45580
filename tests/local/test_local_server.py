"""The local OpenAI-compatible server, over real HTTP: aiohttp and the official openai client."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections import Counter

import aiohttp
import numpy as np
import openai
import orjson
import pytest

from bfnb.local import model
from bfnb.local.httpserver import LocalServer
from bfnb.testing.fixtures import local_server, server  # noqa: F401  (fixture)

AUTH = {"Authorization": "Bearer sk-test", "Content-Type": "application/json"}


def body(i: int = 0, **kw) -> dict:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"Write a poem about hero {i}"}],
        **kw,
    }


async def _post_many(url: str, bodies: list[dict], headers=AUTH, path="/chat/completions"):
    """POST each body concurrently; returns (status or exception name, headers, json) per body."""
    async with aiohttp.ClientSession() as session:

        async def one(b):
            try:
                async with session.post(url + path, data=orjson.dumps(b), headers=headers) as r:
                    raw = await r.read()
                    return r.status, r.headers, orjson.loads(raw) if raw else None
            except aiohttp.ClientError as exc:
                return type(exc).__name__, None, None

        return await asyncio.gather(*(one(b) for b in bodies))


def post_many(url, bodies, **kw):
    return asyncio.run(_post_many(url, bodies, **kw))


def post_sequential(url, bodies, **kw):
    return [post_many(url, [b], **kw)[0] for b in bodies]


def test_chat_over_http_equals_the_in_process_model(server):
    [(status, headers, data)] = post_many(server.url, [body(1, max_tokens=50)])
    assert status == 200
    assert data == model.chat_completion(body(1, max_tokens=50))
    assert "x-ratelimit-limit-requests" not in headers  # no limits configured, none announced


def test_missing_bearer_key_is_401_and_bad_json_is_400(server):
    [(status, _, data)] = post_many(server.url, [body()], headers={"Content-Type": "application/json"})
    assert status == 401 and data["error"]["code"] == "invalid_api_key"

    async def bad():
        async with (
            aiohttp.ClientSession() as s,
            s.post(server.url + "/chat/completions", data=b"{nope", headers=AUTH) as r,
        ):
            return r.status, await r.json()

    status, data = asyncio.run(bad())
    assert status == 400 and "Invalid JSON" in data["error"]["message"]
    [(status, _, data)] = post_many(server.url, [{"model": "m", "messages": []}])
    assert status == 400 and "messages" in data["error"]["message"]
    [(status, _, data)] = post_many(server.url, [body(max_tokens="lots")])
    assert status == 400 and "max_tokens" in data["error"]["message"]
    assert server.stats()["by_status"] == {401: 1, 400: 3}


def test_official_openai_client_chat_embeddings_models(server, request):
    client = openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0)
    request.addfinalizer(client.close)
    resp = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Write a poem about Ariadne"}],
        max_tokens=200,
        seed=3,
    )
    assert "Ariadne" in resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    # The client asks for base64 by default and decodes it; the floats match the float format.
    emb = client.embeddings.create(model="local-embed", input=["golden fleece", "the golden fleece"])
    floats = client.embeddings.create(model="local-embed", input=["golden fleece"], encoding_format="float")
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 256
    assert np.allclose(emb.data[0].embedding, floats.data[0].embedding)
    assert emb.usage.prompt_tokens == 4 + 5
    assert {m.id for m in client.models.list()} == {model.LOCAL_CHAT_MODEL, model.LOCAL_EMBED_MODEL}
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"


def post_on_one_connection(url, bodies):
    async def main():
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk-test"}) as session:
            for b in bodies:
                async with session.post(url + "/chat/completions", json=b) as r:
                    await r.read()

    asyncio.run(main())


def test_stats_count_answers_bodies_and_duplicates_also_over_http(server):
    # one keep-alive connection: each next request shows the client read the answer before it
    post_on_one_connection(server.url, [body(1), body(2), body(1), body(1), body(3)])
    s = server.stats()
    assert (s["requests"], s["answered"], s["bodies"], s["duplicates"], s["duplicate_answers"]) == (5, 5, 3, 1, 2)
    assert s["resent_unread"] == 0
    # an answer that was the last on its connection may never have been read: a re-send is not a
    # completed call paid twice (the client may have died with the call in flight)
    post_sequential(server.url, [body(7), body(7)])
    s = server.stats()
    assert s["duplicates"] == 1 and s["resent_unread"] == 1
    assert s["by_status"] == {200: 7} and s["tokens"] > 0

    async def get_stats():
        async with (
            aiohttp.ClientSession() as session,
            session.get(server.url.removesuffix("/v1") + "/stats") as r,
        ):
            return await r.json()

    assert asyncio.run(get_stats())["by_status"] == {"200": 7}
    server.reset_stats()
    assert server.stats()["requests"] == 0 and server.stats()["bodies"] == 0


def test_configure_at_run_time_in_process_and_over_http(server):
    server.configure(burst_429=1)
    assert [r[0] for r in post_sequential(server.url, [body(), body()])] == [429, 200]

    async def configure(settings):
        async with (
            aiohttp.ClientSession() as s,
            s.post(server.url.removesuffix("/v1") + "/configure", json=settings) as r,
        ):
            return r.status, await r.json()

    status, config = asyncio.run(configure({"burst_429": 2, "latency_s": 0.001}))
    assert status == 200 and config["latency_s"] == 0.001
    assert [r[0] for r in post_sequential(server.url, [body()] * 3)] == [429, 429, 200]
    assert asyncio.run(configure({"nonsense": 1}))[0] == 400
    with pytest.raises(TypeError, match="nonsense"):
        server.configure(nonsense=1)


def test_burst_429_carries_a_short_retry_after_ms(server):
    server.configure(burst_429=2)
    results = post_sequential(server.url, [body()] * 3)
    assert [r[0] for r in results] == [429, 429, 200]
    assert results[0][1]["retry-after-ms"] == "50" and results[0][1]["retry-after"] == "1"
    assert results[0][2]["error"]["code"] == "rate_limit_exceeded"


def test_rpm_limit_answers_429_with_openai_headers():
    with local_server(rpm=3) as srv:
        results = post_many(srv.url, [body(i) for i in range(5)])
        assert Counter(r[0] for r in results) == {200: 3, 429: 2}
        ok = next(r for r in results if r[0] == 200)[1]
        assert ok["x-ratelimit-limit-requests"] == "3"
        assert int(ok["x-ratelimit-remaining-requests"]) in (0, 1, 2)
        limited = next(r for r in results if r[0] == 429)[1]
        assert limited["x-ratelimit-remaining-requests"] == "0"
        assert 15_000 <= int(limited["retry-after-ms"]) <= 20_000  # one request refills in 60/3 s
        assert int(limited["retry-after"]) >= 15
        assert limited["x-ratelimit-reset-requests"].endswith("s")
        assert "x-ratelimit-limit-tokens" not in limited


def test_tpm_counts_prompt_plus_max_tokens_at_admission():
    with local_server(tpm=1000) as srv:
        # ~10 prompt tokens + 400 reserved for the answer: two fit in 1,000 tokens, the third does not.
        results = post_sequential(srv.url, [body(i, max_tokens=400) for i in range(3)])
        assert [r[0] for r in results] == [200, 200, 429]
        assert results[2][1]["x-ratelimit-limit-tokens"] == "1000"
        assert int(results[2][1]["x-ratelimit-remaining-tokens"]) < 410
        assert "Limit 1000" in results[2][2]["error"]["message"]
        # A request larger than the whole limit can never pass.
        [(status, _, data)] = post_many(srv.url, [body(9, max_tokens=5000)])
        assert status == 429 and "too large" in data["error"]["message"]


def test_openai_client_sees_rate_limit_and_connection_errors():
    with local_server(burst_429=1, drop_rate=1.0) as srv:
        with (
            openai.OpenAI(base_url=srv.url, api_key="sk-test", max_retries=0) as client,
            pytest.raises(openai.RateLimitError),
        ):
            client.chat.completions.create(**body())
        with (
            openai.OpenAI(base_url=srv.url, api_key="sk-test", max_retries=0) as client,
            pytest.raises(openai.APIConnectionError),
        ):
            client.chat.completions.create(**body())
        assert srv.stats()["dropped"] == 1 and srv.stats()["by_status"] == {429: 1}


def test_fail_rate_and_drop_rate_roughly_as_configured():
    with local_server(fail_rate=0.2, drop_rate=0.1, seed=1) as srv:
        results = post_many(srv.url, [body(i) for i in range(600)])
        kinds = Counter(r[0] for r in results)
        five_xx = sum(n for k, n in kinds.items() if k in (500, 502, 503))
        dropped = sum(n for k, n in kinds.items() if isinstance(k, str))
        assert 0.13 * 600 < five_xx < 0.27 * 600
        assert 0.05 * 600 < dropped < 0.15 * 600
        assert kinds[200] == 600 - five_xx - dropped
        s = srv.stats()
        assert s["dropped"] == dropped and s["answered"] == kinds[200] and s["requests"] == 600


def test_fault_sequence_is_deterministic_for_a_seed():
    def statuses(seed):
        with local_server(fail_rate=0.3, seed=seed) as srv:
            return [r[0] for r in post_sequential(srv.url, [body(i) for i in range(40)])]

    assert statuses(5) == statuses(5)
    assert statuses(5) != statuses(6)


def test_retrying_dropped_and_failed_calls_is_not_a_duplicate():
    with local_server(drop_rate=0.3, fail_rate=0.2, seed=3) as srv:
        pending = [body(i) for i in range(100)]
        for _ in range(30):
            results = post_many(srv.url, pending)
            pending = [b for b, r in zip(pending, results, strict=True) if r[0] != 200]
            if not pending:
                break
        s = srv.stats()
        assert not pending and s["answered"] == 100 and s["bodies"] == 100 and s["duplicates"] == 0
        assert s["dropped"] > 0


def test_embeddings_endpoint_and_a_thousand_concurrent_connections(server):
    [(status, _, data)] = post_many(server.url, [{"model": "local-embed", "input": ["a", "b c"]}], path="/embeddings")
    assert status == 200 and len(data["data"]) == 2
    results = post_many(server.url, [body(i) for i in range(1200)])
    assert Counter(r[0] for r in results) == {200: 1200}


def test_start_on_a_busy_port_raises_and_stop_is_idempotent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(OSError):
            LocalServer(port=sock.getsockname()[1]).start()
    srv = LocalServer().start()
    assert srv.url.startswith("http://127.0.0.1:") and srv.url.endswith("/v1")
    srv.stop()
    srv.stop()
    assert "stopped" in repr(srv)


def test_base64_embedding_over_http_is_little_endian_float32(server):
    [(status, _, data)] = post_many(
        server.url,
        [{"model": "local-embed", "input": "x y", "encoding_format": "base64", "dimensions": 8}],
        path="/embeddings",
    )
    vec = np.frombuffer(base64.b64decode(data["data"][0]["embedding"]), dtype="<f4")
    assert status == 200 and vec.shape == (8,) and abs(float(np.linalg.norm(vec)) - 1) < 1e-5
