"""The call client: identity (who answers is part of every key and fingerprint), ledger first, one record type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import bfnb as bf
from bfnb.calls import CallClient, Calls, Endpoint, resolve_endpoint
from bfnb.local.httpserver import LocalServer
from bfnb.op import AskLLM, FromList

SCRIPT = textwrap.dedent(
    """
    import json, bfnb as bf
    from bfnb.op import FromList, AskLLM
    with bf.ProjectFolder("identity", 1, 0, 0):
        g = FromList([{"w": f"word {i}"} for i in range(5)]) | AskLLM("Poem about {w}", model="gpt-4o-mini@openai")
    out = g.run()
    node = g.last_run.nodes[-1]
    print(json.dumps({"sent": node.calls_sent, "cached": node.cached, "status": out["status"].tolist()}))
    """
)


def _run(env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_offline_then_a_key_in_a_new_process_sends_every_call_once(tmp_path):
    base = dict(os.environ, BFNB_DATA_DIR=str(tmp_path / "data"))
    base.pop("OPENAI_API_KEY", None)
    offline = _run({**base, "BFNB_OFFLINE": "1"})
    assert offline["sent"] == 5 and offline["status"] == ["done"] * 5  # the local model answered
    with LocalServer().start() as server:
        online = {**base, "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-test-not-real"}
        online.pop("BFNB_OFFLINE", None)
        first = _run(online)
        assert first["sent"] == 5 and first["cached"] is False  # not served from the offline checkpoint
        assert server.stats()["answered"] == 5  # real answers from the endpoint
        again = _run(online)
        assert server.stats()["answered"] == 5  # the same request to the same endpoint is never re-sent
        assert again["status"] == ["done"] * 5


def test_the_endpoint_is_part_of_the_key_and_the_fingerprint(monkeypatch):
    op = AskLLM("Poem about {w}", model="gpt-4o-mini@openai")
    offline_fp = op.fingerprint()
    off = resolve_endpoint("chat", "gpt-4o-mini@openai")
    assert off.provider == "local" and off.base_url == ""
    with LocalServer().start() as server:
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
        on = resolve_endpoint("chat", "gpt-4o-mini@openai")
        assert on.provider == "openai" and on.base_url == server.url and on.model == "gpt-4o-mini"
        assert op.fingerprint() != offline_fp
        assert on.identity != off.identity
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/other")
        assert resolve_endpoint("chat", "gpt-4o-mini@openai").identity != on.identity
        assert "sk-test" not in repr(on)


def test_fetch_serves_the_ledger_first_and_sends_each_key_once():
    ep = resolve_endpoint("chat", "local-chat@local")
    client = CallClient(project=bf.ProjectFolder("calls", 1, 0, 0))
    bodies = [{"model": ep.model, "messages": [{"role": "user", "content": f"hi {i % 3}"}]} for i in range(6)]
    first = client.fetch(ep, bodies, op="t", idxs=[str(i) for i in range(6)], max_output_tokens=16)
    assert isinstance(first, Calls) and first.sent == 3 and first.cached == 0
    assert first.status() == ["done"] * 6 and all(isinstance(r, bf.CallRecord) for r in first.records)
    assert first.keys[0] == first.keys[3] and len(set(first.keys)) == 3
    again = client.fetch(ep, bodies, op="t", idxs=[str(i) for i in range(6)])
    assert again.sent == 0 and again.cached == 6 and [r.key for r in again.records] == first.keys


def test_without_dispatch_nothing_is_sent_and_missing_calls_are_pending():
    ep = resolve_endpoint("chat", "local-chat@local")
    client = CallClient(project=bf.ProjectFolder("calls", 1, 0, 0), dispatch=False)
    got = client.fetch(ep, [{"model": ep.model, "messages": [{"role": "user", "content": "x"}]}], op="t", idxs=["0"])
    assert got.sent == 0 and got.pending == 1 and got.status() == ["pending"]


def test_a_broker_of_ones_own_is_named_by_its_endpoint():
    from bfnb.brokers import FunctionBroker

    seen = []

    def handler(body):
        seen.append(body)
        return {"choices": [{"message": {"content": body["messages"][0]["content"].upper()}}]}

    ep = Endpoint("chat", "mine", "", "upper", broker=FunctionBroker(handler, provider="mine", model="upper"))
    client = CallClient(project=bf.ProjectFolder("calls", 1, 0, 0))
    got = client.fetch(ep, [{"messages": [{"role": "user", "content": w}]} for w in "ab"], op="t", idxs=["0", "1"])
    assert [r.response["choices"][0]["message"]["content"] for r in got.records] == ["A", "B"] and len(seen) == 2


@pytest.mark.parametrize("model", ["nope@nowhere", "no-provider"])
def test_an_unknown_provider_fails_before_anything_runs(model):
    with pytest.raises(bf.BfnbError):
        AskLLM("x {w}", model=model)


def test_mock_answers_offline_with_a_key_set_and_is_cached_apart(monkeypatch):
    with LocalServer().start() as server:
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
        with bf.ProjectFolder("mock", 1, 0, 0):
            g = FromList([{"w": f"w{i}"} for i in range(5)]) | AskLLM("Poem about {w}", model="gpt-4o-mini@openai")
        g.execute(dispatch_brokers=True, mock=True)
        assert server.stats()["requests"] == 0  # never a request, although a key is set
        mocked = g.last_run.nodes[-1]
        assert mocked.calls_sent == 5
        led = bf.ProjectFolder("mock", 1, 0, 0).ledger.to_pandas()
        assert set(led["provider"]) == {"mock"}  # marked as such
        real = g.run()
        assert server.stats()["answered"] == 5 and real["status"].tolist() == ["done"] * 5  # not served from mock
        g.execute(dispatch_brokers=True, mock=True)
        assert server.stats()["requests"] == 5  # the mock answers were kept apart, and reused
