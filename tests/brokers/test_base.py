"""The Broker core, driven through FunctionBroker: dedupe, concurrency, retries, controls, events."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from broker_helpers import FAST_RETRY, chat_job, chat_jobs, run

from bfnb import events
from bfnb.brokers import BudgetTracker, FunctionBroker, Job, RateLimits, Retry
from bfnb.brokers.broker import usage_tokens
from bfnb.brokers.function import local_chat_broker, local_embedding_broker
from bfnb.brokers.retry import RateLimitError, TransientError
from bfnb.executor.loop import submit
from bfnb.ledger.records import CallRecord


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Poll ``condition`` until it holds; fail (instead of hanging) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {timeout} s"
        time.sleep(0.002)


def echo(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "choices": [{"message": {"content": body["messages"][0]["content"]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }


def test_dedupe_sends_each_key_once() -> None:
    calls: list[str] = []

    def handler(body: dict[str, Any]) -> dict[str, Any]:
        calls.append(body["messages"][0]["content"])
        return echo(body)

    broker = FunctionBroker(handler, retry=FAST_RETRY)
    got: list[CallRecord] = []
    jobs = [chat_job(1)] * 50 + [chat_job(2)] * 30
    result = run(broker.run(jobs, on_record=got.append))
    assert len(calls) == 2
    assert sorted(result) == ["key-1", "key-2"]
    assert sorted(r.key for r in got) == ["key-1", "key-2"]
    rec = result["key-1"]
    assert rec.status == "done" and rec.input_tokens == 3 and rec.output_tokens == 2
    assert rec.origin == {"op": "test", "idx": "1"} and rec.request == jobs[0].request
    assert rec.t_done >= rec.t_sent > 0


def test_concurrency_bound_is_respected() -> None:
    state = {"now": 0, "max": 0}

    async def handler(body: dict[str, Any]) -> dict[str, Any]:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        await asyncio.sleep(0.005)
        state["now"] -= 1
        return echo(body)

    broker = FunctionBroker(handler, limits=RateLimits(concurrency=7))
    result = run(broker.run(chat_jobs(100), on_record=lambda r: None))
    assert len(result) == 100
    assert state["max"] == 7


def test_transient_faults_are_retried_until_done() -> None:
    seen: dict[str, int] = {}

    def flaky(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][0]["content"]
        seen[text] = seen.get(text, 0) + 1
        if seen[text] < 3:
            raise TransientError("HTTP 503: try later", status=503)
        return echo(body)

    broker = FunctionBroker(flaky, retry=FAST_RETRY)
    result = run(broker.run(chat_jobs(40), on_record=lambda r: None))
    assert all(r.status == "done" and r.attempts == 3 for r in result.values())
    snap = broker.snapshot()
    assert snap.done == 40 and snap.failed == 0 and snap.retrying == 0 and snap.pending == 0


def test_attempt_cap_fails_then_retry_failed_completes() -> None:
    broken = {"on": True}

    def handler(body: dict[str, Any]) -> dict[str, Any]:
        if broken["on"] and body["messages"][0]["content"].endswith("3."):
            raise TransientError("HTTP 500: broken")
        return echo(body)

    broker = FunctionBroker(handler, retry=Retry(max_attempts=3, backoff_base_s=0.001, backoff_max_s=0.01))
    got: list[CallRecord] = []
    result = run(broker.run(chat_jobs(20), on_record=got.append))
    failed = {k: r for k, r in result.items() if r.status == "failed"}
    assert sorted(failed) == ["key-13", "key-3"]
    assert all(r.attempts == 3 and "HTTP 500: broken" in r.error and r.response is None for r in failed.values())
    assert broker.snapshot().failed == 2 and "HTTP 500: broken" in broker.snapshot().last_errors[-1]
    broken["on"] = False
    again = broker.retry_failed().result(timeout=30)
    assert sorted(again) == ["key-13", "key-3"] and all(r.status == "done" for r in again.values())
    assert [r.status for r in got if r.key == "key-3"] == ["failed", "done"]  # the ledger sees both


def test_fatal_error_fails_at_once() -> None:
    calls = []

    def handler(body: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        raise ValueError("cannot answer this")

    broker = FunctionBroker(handler, retry=FAST_RETRY)
    result = run(broker.run([chat_job(1)], on_record=lambda r: None))
    assert len(calls) == 1
    assert result["key-1"].status == "failed" and "ValueError: cannot answer this" in result["key-1"].error


def test_retry_after_is_honoured() -> None:
    times: list[float] = []
    lock = threading.Lock()

    def handler(body: dict[str, Any]) -> dict[str, Any]:
        with lock:
            times.append(time.monotonic())
            first = len(times) == 1
        if first:
            raise RateLimitError("HTTP 429: slow down", status=429, retry_after=0.3)
        return echo(body)

    broker = FunctionBroker(handler, limits=RateLimits(concurrency=1), retry=FAST_RETRY)
    result = run(broker.run(chat_jobs(5), on_record=lambda r: None))
    assert len(result) == 5 and all(r.status == "done" for r in result.values())
    assert all(t - times[0] >= 0.3 for t in times[1:])  # nothing was sent before the Retry-After
    assert broker.limiter.pauses == 1


def test_cancel_from_another_thread_returns_completed_records_once() -> None:
    got: list[CallRecord] = []
    lock = threading.Lock()

    async def slow(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return echo(body)

    def on_record(rec: CallRecord) -> None:
        with lock:
            got.append(rec)

    broker = FunctionBroker(slow, limits=RateLimits(concurrency=4))
    jobs = chat_jobs(2000)
    fut = submit(broker.run(jobs, on_record=on_record))
    wait_until(lambda: len(got) >= 20)
    broker.cancel()
    result = fut.result(timeout=30)
    assert result.stopped == "cancelled" and broker.state == "cancelled"
    keys = [r.key for r in got]
    assert len(keys) == len(set(keys)) == len(result)  # on_record got each completed call once
    assert set(result) | set(result.unsent) == {j.key for j in jobs}
    assert not set(result) & set(result.unsent)
    assert 20 <= len(result) < 2000


def test_pause_and_resume_from_another_thread() -> None:
    async def slow(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.002)
        return echo(body)

    got: list[CallRecord] = []
    broker = FunctionBroker(slow, limits=RateLimits(concurrency=2))
    fut = submit(broker.run(chat_jobs(300), on_record=got.append))
    wait_until(lambda: len(got) >= 5)
    broker.pause()
    wait_until(lambda: broker.snapshot().in_flight == 0)  # in-flight calls finish
    frozen = len(got)
    time.sleep(0.2)  # a window in which a paused broker starts nothing (it passes however long it is)
    assert len(got) == frozen and broker.state == "paused" and not fut.done()
    broker.resume()
    assert len(fut.result(timeout=30)) == 300


def test_asyncio_cancellation_keeps_delivered_records_and_leaves_broker_usable() -> None:
    got: list[CallRecord] = []

    async def slow(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return echo(body)

    broker = FunctionBroker(slow, limits=RateLimits(concurrency=8))
    jobs = chat_jobs(1000)
    fut = submit(broker.run(jobs, on_record=got.append))
    wait_until(lambda: len(got) >= 30)
    fut.cancel()  # what run_sync does on KeyboardInterrupt
    deadline = time.monotonic() + 10
    while (broker._workers or broker.state == "running") and time.monotonic() < deadline:
        time.sleep(0.01)
    n = len(got)
    assert n >= 30 and len({r.key for r in got}) == n
    assert broker.snapshot().in_flight == 0 and not broker._workers
    rest = [j for j in jobs if j.key not in {r.key for r in got}]
    result = run(broker.run(rest, on_record=got.append))
    assert len(result) == len(rest) and len({r.key for r in got}) == 1000


def test_two_concurrent_runs_share_a_key() -> None:
    calls: list[str] = []

    async def handler(body: dict[str, Any]) -> dict[str, Any]:
        calls.append(body["messages"][0]["content"])
        await asyncio.sleep(0.01)
        return echo(body)

    broker = FunctionBroker(handler)
    a: list[CallRecord] = []
    b: list[CallRecord] = []

    async def both() -> tuple[Any, Any]:
        return await asyncio.gather(
            broker.run(chat_jobs(10), on_record=a.append), broker.run(chat_jobs(15), on_record=b.append)
        )

    ra, rb = run(both())
    assert len(calls) == 15  # keys 0..9 were asked by both runs and sent once
    assert len(ra) == 10 and len(rb) == 15 and len(a) == 10 and len(b) == 15


def test_events_and_snapshot() -> None:
    seen: list[events.Event] = []
    unsubscribe = events.bus.subscribe(seen.append)
    try:
        broker = FunctionBroker(echo, name="chat echo@test", prices=(1.0, 2.0))
        broker.note_cached(4, op="ask")
        run(broker.run(chat_jobs(10, op="ask"), on_record=lambda r: None))
    finally:
        unsubscribe()
    kinds = [type(e).__name__ for e in seen]
    assert kinds.count("CallDone") == 10 and kinds.count("CallSent") == 10
    assert any(isinstance(e, events.CallsQueued) and e.n == 10 and e.op == "ask" for e in seen)
    assert any(isinstance(e, events.CallsCached) and e.n == 4 for e in seen)
    assert [e.state for e in seen if isinstance(e, events.BrokerStateChanged)] == ["running", "idle"]
    snap = broker.snapshot()
    assert (snap.name, snap.state, snap.done, snap.cached, snap.pending) == ("chat echo@test", "idle", 10, 4, 0)
    assert snap.input_tokens == 30 and snap.output_tokens == 20
    assert snap.cost_usd == pytest.approx((30 * 1.0 + 20 * 2.0) / 1e6) and snap.cost_known
    assert snap.requests_per_s > 0 and snap.eta_s == 0.0


def test_on_record_failure_stops_the_run_and_raises() -> None:
    def on_record(rec: CallRecord) -> None:
        raise OSError("disk full")

    broker = FunctionBroker(echo, limits=RateLimits(concurrency=1))
    with pytest.raises(OSError, match="disk full"):
        run(broker.run(chat_jobs(50), on_record=on_record))


def test_local_brokers_answer_offline() -> None:
    chat = local_chat_broker()
    result = run(chat.run([chat_job(1)], on_record=lambda r: None))
    rec = result["key-1"]
    assert rec.provider == "local" and rec.status == "done" and rec.response["choices"][0]["message"]["content"]
    assert rec.cost_usd == 0.0
    emb = local_embedding_broker()
    job = Job("e1", "embedding", {"model": "local-embed", "input": "hello world"}, 3, 0)
    erec = run(emb.run([job], on_record=lambda r: None))["e1"]
    assert len(erec.response["data"][0]["embedding"]) > 0 and erec.input_tokens == 3


def test_secret_fields_never_reach_a_record() -> None:
    broker = FunctionBroker(echo)
    job = chat_job(1)
    job.request["api_key"] = "sk-live-secret"
    rec = run(broker.run([job], on_record=lambda r: None))["key-1"]
    assert "api_key" not in rec.request and "sk-live-secret" not in repr(rec)


def test_usage_tokens_shapes() -> None:
    assert usage_tokens({"usage": {"prompt_tokens": 5, "completion_tokens": 7}}) == (5, 7)
    assert usage_tokens({"usage": {"prompt_tokens": 5, "total_tokens": 5}}) == (5, 0)
    assert usage_tokens({"usage": {"input_tokens": 4, "output_tokens": 1}}) == (4, 1)
    assert usage_tokens({}, 9) == (9, 0)


def test_budget_reservations_never_leak() -> None:
    async def handler(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.002)
        text = body["messages"][0]["content"]
        if text.endswith("7."):
            raise ValueError("no sevens")
        if text.endswith("3."):
            raise TransientError("HTTP 503")
        return echo(body)

    broker = FunctionBroker(handler, limits=RateLimits(concurrency=8), prices=(1.0, 1.0),
                            retry=Retry(max_attempts=50, backoff_base_s=0.01, backoff_max_s=0.02))  # fmt: skip
    budget = BudgetTracker(100.0)
    got: list[CallRecord] = []
    fut = submit(broker.run(chat_jobs(3000), on_record=got.append, budget=budget))
    wait_until(lambda: len(got) >= 100)
    broker.cancel()
    result = fut.result(timeout=30)
    assert budget.reserved == 0  # every reservation was committed or released
    assert budget.spent == pytest.approx(sum(r.cost_usd or 0 for r in result.values()))
    assert any(r.status == "failed" for r in result.values()) and result.unsent
