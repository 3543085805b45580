"""Broker ops on Ray workers: content-addressed caching, one payment per call across workers, spend counted once."""

from __future__ import annotations

import math
import os
import shutil

import pytest

import bfnb as bf
from bfnb.engines import get_engine
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, EmbedText, FromList

pytest.importorskip("ray")


@pytest.fixture
def small_batches(ray_session):
    eng = get_engine("ray")
    old, eng.batch_rows = eng.batch_rows, 5  # 60 entries: 12 batches over the 2 workers
    yield
    eng.batch_rows = old


def test_workers_pay_each_call_once_and_a_rerun_sends_none(small_batches, server, tmp_path):
    # 60 entries in 12 batches of 5, each batch asking the same 5 prompts; the server answers
    # slowly, so the first batches on both workers ask for the same calls at the same time
    server.configure(latency_s=1.0)
    with bf.ProjectFolder("raycalls", data_dir=tmp_path) as project:
        g = (
            FromList([{"topic": f"t{i % 5}", "n": i} for i in range(60)])
            | AskLLM("One line about {topic}.", model="gpt-4o-mini@openai").tag("ask")
            | EmbedText("topic", output_key="vec", model="text-embedding-3-small@openai").tag("embed")
        )
    memo.clear()
    out = g.run(engine="ray")
    assert (out["status"] == "done").all() and len(out) == 60
    stats = server.stats()
    assert stats["duplicate_answers"] == 0  # no call answered twice, though 12 batches asked for each
    ledger = project.ledger
    assert len(ledger) == 10  # 5 chats + 5 embeddings
    records = ledger.to_pandas()
    assert int(records["total_tokens"].sum()) == stats["tokens"]  # every token paid for is in the ledger, once
    reports = {r.tag: r for r in g.last_run.nodes if r.tag}
    assert reports["ask"].calls_sent == 5 and reports["embed"].calls_sent == 5
    spent = sum(r.cost_usd or 0.0 for r in reports.values())
    assert spent > 0 and math.isclose(spent, ledger.stats()["cost_usd"])  # each record's cost counted once
    assert not ledger.claims.held()  # every worker released its claims
    explained = g.explain("ask")  # which entry's call was paid here: one per prompt
    assert len(explained) == 60 and (explained["served"] == "sent").sum() == 5
    assert set(explained["served"]) == {"sent", "ledger"}

    memo.clear()
    g.run(engine="ray")
    assert {r.tag: r.cached for r in g.last_run.nodes if r.tag} == {"ask": "checkpoint", "embed": "checkpoint"}
    shutil.rmtree(project.checkpoint_dir)  # a new process without checkpoints: the ledger answers
    memo.clear()
    again = g.run(engine="ray")
    assert server.stats()["requests"] == stats["requests"]  # 0 requests
    again_reports = {r.tag: r for r in g.last_run.nodes if r.tag}
    assert again_reports["ask"].calls_sent == 0 and again_reports["ask"].calls_cached == 60
    assert again.sort_index().drop(columns="vec").equals(out.sort_index().drop(columns="vec"))


def test_the_ledger_actor_sits_beside_the_driver(small_batches, server, tmp_path):
    import ray

    from bfnb.engines.ray.ray_ledger import ledger_actor

    with bf.ProjectFolder("beside", data_dir=tmp_path) as project:
        g = FromList([{"q": "x"}]) | AskLLM("{q}?", model="gpt-4o-mini@openai")
    g.run(engine="ray")
    node, _ = ray.get(ledger_actor(str(project.ledger.path)).where.remote())
    assert node == ray.get_runtime_context().get_node_id()


def test_a_budget_keeps_calls_on_the_driver_under_its_ceiling(small_batches, server, tmp_path):
    with bf.ProjectFolder("budget", data_dir=tmp_path):
        g = FromList([{"q": f"q{i}"} for i in range(10)]) | AskLLM("{q}?", model="gpt-4o-mini@openai")
    memo.clear()
    out = g.run(engine="ray", budget_usd=1.0)
    assert (out["status"] == "done").all() and server.stats()["answered"] == 10


def test_a_dead_worker_of_this_host_frees_its_claims_at_once(tmp_path):
    import socket
    import subprocess
    import sys

    from bfnb.engines.ray.ray_ledger import _OwnerClaims

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    path = tmp_path / "claims.jsonl"
    gone = _OwnerClaims(path, f"ray:{host}:{int(dead.stdout)}:aa")
    alive = _OwnerClaims(path, f"ray:{host}:{os.getpid()}:bb")
    elsewhere = _OwnerClaims(path, f"ray:{host}-other-node:{int(dead.stdout)}:cc")
    assert gone.acquire(["k1"])[0] == ["k1"] and alive.acquire(["k2"])[0] == ["k2"]
    assert elsewhere.acquire(["k3"])[0] == ["k3"]
    asker = _OwnerClaims(path, f"ray:{host}:{os.getpid()}:dd")
    granted, held = asker.acquire(["k1", "k2", "k3"], 30.0)
    assert granted == ["k1"]  # its worker is gone: free now, not in 30 s
    assert set(held) == {"k2", "k3"}  # a live worker's, and one on another node (until its lease ends)
