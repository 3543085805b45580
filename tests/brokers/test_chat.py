"""ChatBroker over real HTTP against the LocalServer on 127.0.0.1."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from broker_helpers import FAST_RETRY, SECRET, chat_job, chat_jobs, resolved, run

from bfnb.brokers import BudgetTracker, ChatBroker, Job, RateLimits, Retry
from bfnb.brokers.chat_broker import finish_reasons
from bfnb.brokers.limiter import Limiter
from bfnb.executor.loop import run_sync
from bfnb.ledger.records import CallRecord


def test_answers_with_usage_and_finish_reason(server) -> None:
    broker = ChatBroker(resolved(server), retry=FAST_RETRY)
    result = run(broker.run([chat_job(1, max_tokens=2), chat_job(2, max_tokens=500)], on_record=lambda r: None))
    short, full = result["key-1"], result["key-2"]
    assert finish_reasons(short.response) == ["length"] and finish_reasons(full.response) == ["stop"]
    assert full.input_tokens > 0 and full.output_tokens > 0 and full.provider == "testsrv"
    assert broker.name == "chat gpt-4o-mini@testsrv"


def test_identical_requests_are_sent_once(server) -> None:
    broker = ChatBroker(resolved(server), retry=FAST_RETRY)
    got: list[CallRecord] = []
    result = run(broker.run([chat_job("same")] * 100 + [chat_job("other")] * 5, on_record=got.append))
    assert len(result) == 2 and len(got) == 2
    assert server.stats()["requests"] == 2


def test_faults_all_complete(server) -> None:
    server.configure(latency_s=0.005, fail_rate=0.10, drop_rate=0.02, burst_429=30)
    broker = ChatBroker(resolved(server), RateLimits(concurrency=32), Retry(max_attempts=8, backoff_base_s=0.01,
                        backoff_max_s=0.1, timeout_s=10))  # fmt: skip
    got: list[CallRecord] = []
    result = run(broker.run(chat_jobs(600), on_record=got.append))
    stats = server.stats()
    assert len(result) == 600 and all(r.status == "done" for r in result.values())
    assert len(got) == 600 and len({r.key for r in got}) == 600
    assert stats["by_status"].get(429, 0) >= 30 and stats["dropped"] > 0
    assert sum(n for s, n in stats["by_status"].items() if s >= 500) > 0
    assert stats["answered"] == 600 and stats["duplicates"] == 0  # nothing was paid for twice
    assert broker.snapshot().failed == 0 and max(r.attempts for r in result.values()) > 1
    assert broker.limiter.pauses >= 1  # the 429s' Retry-After paused admissions


def test_bad_request_fails_without_retry(server) -> None:
    broker = ChatBroker(resolved(server), retry=FAST_RETRY)
    bad = Job("bad", "chat", {"model": "gpt-4o-mini", "messages": []}, 1, 1)
    rec = run(broker.run([bad], on_record=lambda r: None))["bad"]
    assert rec.status == "failed" and rec.attempts == 1 and rec.error.startswith("HTTP 400")
    assert server.stats()["requests"] == 1


def test_the_key_goes_only_into_the_authorization_header(server) -> None:
    server.configure(fail_rate=1.0)
    broker = ChatBroker(resolved(server), retry=Retry(max_attempts=2, backoff_base_s=0.001))
    got: list[CallRecord] = []
    run(broker.run(chat_jobs(3), on_record=got.append))
    server.configure(fail_rate=0.0)
    run(broker.run(chat_jobs(6), on_record=got.append))
    blob = orjson.dumps([r.to_dict() for r in got]).decode()
    assert {r.status for r in got} == {"failed", "done"}
    assert SECRET not in blob and SECRET not in repr(broker) and SECRET not in repr(broker.snapshot())


def _drain(server) -> None:
    """Fill the server's RPM bucket (600, refilled at 10/s) and empty it with unpaced calls."""
    server.configure(rpm=600)
    drain = ChatBroker(resolved(server), RateLimits(concurrency=64), FAST_RETRY, limiter=Limiter(learn=False))
    run(drain.run([chat_job(f"drain-{i}") for i in range(600)], on_record=lambda r: None))
    server.reset_stats()


@pytest.mark.slow
def test_paced_broker_stays_under_the_server_limit(server) -> None:
    _drain(server)
    free = ChatBroker(resolved(server), RateLimits(concurrency=64), Retry(max_attempts=50, backoff_base_s=0.05),
                      limiter=Limiter(learn=False))  # fmt: skip
    run(free.run([chat_job(f"free-{i}") for i in range(20)], on_record=lambda r: None))
    free_429 = server.stats()["by_status"].get(429, 0)
    _drain(server)
    paced = ChatBroker(resolved(server), RateLimits(rpm=600, concurrency=64), Retry(max_attempts=20,
                       backoff_base_s=0.05))  # fmt: skip
    result = run(paced.run(chat_jobs(20, max_tokens=8), on_record=lambda r: None))
    paced_429 = server.stats()["by_status"].get(429, 0)
    assert all(r.status == "done" for r in result.values())
    assert paced_429 <= 12  # at most its first burst, into a bucket left empty on purpose
    assert free_429 > 2 * max(paced_429, 5)


def test_limits_are_learned_from_headers(server) -> None:
    server.configure(rpm=6000, tpm=2_000_000)
    broker = ChatBroker(resolved(server), retry=FAST_RETRY)
    run(broker.run(chat_jobs(5), on_record=lambda r: None))
    assert broker.limiter.rpm == 6000 and broker.limiter.tpm == 2_000_000


def test_budget_stops_before_it_is_exceeded(server) -> None:
    # $1000 per million tokens: each job's worst case is (est input + 16) * $0.001
    broker = ChatBroker(resolved(server), RateLimits(concurrency=4), FAST_RETRY, prices=(1000.0, 1000.0))
    budget = BudgetTracker(0.5)
    jobs = chat_jobs(100)
    got: list[CallRecord] = []
    result = run(broker.run(jobs, on_record=got.append, budget=budget))
    assert result.stopped == "budget" and broker.state == "budget"
    assert 0 < len(result) < 100 and len(result) + len(result.unsent) == 100
    assert budget.spent <= 0.5 and budget.reserved == 0
    assert budget.spent == pytest.approx(sum(r.cost_usd for r in result.values()))
    assert server.stats()["answered"] == len(result) == len(got)


def test_a_run_from_inside_a_running_event_loop(server) -> None:
    broker = ChatBroker(resolved(server), retry=FAST_RETRY)

    async def notebook_cell() -> int:
        # a kernel's loop is running here; bfnb's loop is another thread, so blocking on it works
        result = run_sync(broker.run(chat_jobs(20), on_record=lambda r: None))
        await asyncio.sleep(0)
        return len(result)

    assert asyncio.run(notebook_cell()) == 20
