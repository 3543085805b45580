"""BatchAPIBroker against the LocalServer's files and batches endpoints, with a restart."""

from __future__ import annotations

import time
import urllib.request

import orjson
import pytest
from broker_helpers import FAST_RETRY, SECRET, chat_job, chat_jobs, resolved, run

from bfnb.brokers import BatchAPIBroker, BudgetTracker, ChatBroker, Job
from bfnb.executor.loop import submit
from bfnb.ledger.records import CallRecord


def broker_at(server, path, **kw) -> BatchAPIBroker:
    return BatchAPIBroker(resolved(server), state_path=path, poll_interval_s=0.02, retry=FAST_RETRY, **kw)


def server_batches(server) -> list[dict]:
    """The server's batches, as its ``GET /v1/batches`` lists them."""
    req = urllib.request.Request(f"{server.url}/batches?limit=100", headers={"Authorization": "Bearer x"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return orjson.loads(resp.read())["data"]


def test_submit_poll_collect(server, tmp_path) -> None:
    server.configure(batch_delay_s=0.1)
    broker = broker_at(server, tmp_path / "batches.jsonl")
    got: list[CallRecord] = []
    jobs = chat_jobs(12) + chat_jobs(3)  # duplicates are sent once
    result = run(broker.run(jobs, on_record=got.append))
    assert len(result) == 12 and len(got) == 12 and all(r.status == "done" and r.batch for r in result.values())
    assert len(server_batches(server)) == 1 and server.stats()["batch_lines"] == 12
    live = run(ChatBroker(resolved(server), retry=FAST_RETRY).run(chat_jobs(1), on_record=lambda r: None))
    rec, direct = result["key-0"], live["key-0"]
    assert rec.response["choices"] == direct.response["choices"]  # the same answer as a direct call
    assert rec.cost_usd == pytest.approx(direct.cost_usd / 2)  # at half the price
    assert SECRET not in (tmp_path / "batches.jsonl").read_text()


def test_reattach_after_restart_without_second_submission(server, tmp_path) -> None:
    server.configure(batch_delay_s=0.5)
    path = tmp_path / "batches.jsonl"
    first = broker_at(server, path)
    got: list[CallRecord] = []
    fut = submit(first.run(chat_jobs(20), on_record=got.append))
    deadline = time.monotonic() + 10
    while b'"submitted"' not in (path.read_bytes() if path.exists() else b"") and time.monotonic() < deadline:
        time.sleep(0.01)
    fut.cancel()  # the process "dies" while the batch runs at the provider
    assert not got
    second = broker_at(server, path)  # a new process: new broker, same state file
    result = run(second.run(chat_jobs(25), on_record=got.append))
    assert len(result) == 25 and all(r.status == "done" for r in result.values())
    assert len(server_batches(server)) == 2  # the 20 re-attached, only the 5 new ones submitted
    sizes = sorted(b["request_counts"]["total"] for b in server_batches(server))
    assert sizes == [5, 20]
    assert sorted(r.key for r in got) == sorted(j.key for j in chat_jobs(25))
    events = [orjson.loads(x)["event"] for x in path.read_bytes().splitlines()]
    assert events.count("submitted") == 2 and events.count("collected") == 2


def test_cancel_stops_waiting_and_leaves_keys_unsent(server, tmp_path) -> None:
    server.configure(batch_delay_s=30)
    broker = broker_at(server, tmp_path / "b.jsonl")
    fut = submit(broker.run(chat_jobs(4), on_record=lambda r: None))
    deadline = time.monotonic() + 10
    while not server_batches(server) and time.monotonic() < deadline:
        time.sleep(0.01)
    broker.cancel()
    result = fut.result(timeout=10)
    assert len(result) == 0 and sorted(result.unsent) == sorted(j.key for j in chat_jobs(4))
    assert result.stopped == "cancelled"


def test_bad_lines_become_failed_records_and_can_be_retried(server, tmp_path) -> None:
    broker = broker_at(server, tmp_path / "b.jsonl")
    bad = Job("bad", "chat", {"model": "gpt-4o-mini", "messages": []}, 1, 1)
    result = run(broker.run([bad, chat_job(1)], on_record=lambda r: None))
    assert result["key-1"].status == "done"
    assert result["bad"].status == "failed" and "HTTP 400" in result["bad"].error and result["bad"].batch
    again = broker.retry_failed().result(timeout=30)
    assert list(again) == ["bad"] and len(server_batches(server)) == 2


def test_budget_limits_what_is_submitted(server, tmp_path) -> None:
    broker = broker_at(server, tmp_path / "b.jsonl", prices=(1000.0, 1000.0))
    budget = BudgetTracker(0.1)  # each job's worst case is about $0.011 at half price
    result = run(broker.run(chat_jobs(30), on_record=lambda r: None, budget=budget))
    assert result.stopped == "budget" and 0 < len(result) < 30 and len(result) + len(result.unsent) == 30
    assert budget.spent <= 0.1 and server_batches(server)[0]["request_counts"]["total"] == len(result)


def test_embedding_batches(server, tmp_path) -> None:
    broker = BatchAPIBroker(resolved(server, "text-embedding-3-small"), state_path=tmp_path / "e.jsonl",
                            kind="embedding", poll_interval_s=0.02, retry=FAST_RETRY)  # fmt: skip
    jobs = [Job(f"t{i}", "embedding", {"input": f"text {i}", "dimensions": 4}, 2, 0) for i in range(5)]
    result = run(broker.run(jobs, on_record=lambda r: None))
    assert len(result) == 5 and all(len(r.response["data"][0]["embedding"]) == 4 for r in result.values())
