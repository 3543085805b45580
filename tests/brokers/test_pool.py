"""The worker pool on its own: a minimal host (a FunctionBroker-style send), no Broker around it.

What a broker relies on: never more calls in flight than the limit, even as it changes while the
pool runs; transient failures retried until done or out of attempts; counts that add up at every
moment; cancel leaves queued jobs unsent and lets calls in flight finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from broker_helpers import FAST_RETRY, chat_jobs

from bfnb.brokers import Job, RateLimits, Retry
from bfnb.brokers.counters import Counters
from bfnb.brokers.limiter import Limiter
from bfnb.brokers.pack_queue import PackQueue
from bfnb.brokers.pool import WorkerPool
from bfnb.brokers.retry import FatalError, TransientError
from bfnb.ledger.records import CallRecord

DEADLINE_S = 30  # every wait below fails the test instead of hanging


class Host:
    """The narrow interface a pool needs of its broker, answered by ``handler(job)``."""

    name, provider, model, batch, packs, state = "pool test", "function", "echo", False, False, "idle"

    def __init__(self, handler: Callable[[Job], Awaitable[dict[str, Any]]]) -> None:
        self.handler = handler
        self.states: list[str] = []

    async def _send(self, job: Job) -> tuple[dict[str, Any], int, int]:
        return await self.handler(job), 3, 2

    async def _send_many(self, jobs: list[Job]) -> list[tuple[dict[str, Any], int, int]]:
        return [await self._send(jobs[0])]

    def take_more(self, first: Job, queue: PackQueue) -> list[Job]:
        return [first]

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        return (input_tokens + output_tokens) / 1e6

    def _budget_cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens + output_tokens) / 1e6

    def _set_state(self, state: str, detail: dict[str, Any] | None = None) -> None:
        self.state = state
        self.states.append(state)


def make_pool(handler: Callable[[Job], Awaitable[dict[str, Any]]], concurrency: int = 4,
              retry: Retry = FAST_RETRY) -> tuple[WorkerPool, Counters]:  # fmt: skip
    counters = Counters()
    pool = WorkerPool(Host(handler), counters, concurrency=concurrency, limiter=Limiter(RateLimits()), retry=retry)
    pool.bind(asyncio.get_running_loop())
    return pool, counters


def consistent(c: Counters, total: int) -> None:
    """Every job of a run is in exactly one of: pending, in flight, retrying, done, failed."""
    assert min(c.pending, c.in_flight, c.retrying) >= 0, c
    assert c.pending + c.in_flight + c.retrying + c.done + c.failed == total, c


async def until(condition: Callable[[], bool]) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0)

    await asyncio.wait_for(wait(), DEADLINE_S)


def test_concurrency_bound_holds_and_changes_while_running() -> None:
    async def main() -> None:
        gate, now, most = asyncio.Event(), [0], [0]

        async def handler(job: Job) -> dict[str, Any]:
            now[0] += 1
            most[0] = max(most[0], now[0])
            assert now[0] <= pool.concurrency  # never above the limit as it is at this moment
            await gate.wait()
            now[0] -= 1
            return {"ok": job.key}

        pool, counters = make_pool(handler, concurrency=3)
        task = asyncio.create_task(pool.run(chat_jobs(40), lambda r: None, None, None))
        await until(lambda: now[0] == 3)
        for _ in range(20):  # the pool stays at its limit while every call hangs
            await asyncio.sleep(0)
        assert now[0] == 3 and counters.in_flight == 3 and counters.pending == 37
        pool.set_concurrency(7)  # grows at once
        await until(lambda: now[0] == 7)
        assert counters.in_flight == 7
        pool.set_concurrency(2)  # shrinks as calls finish
        gate.set()
        result = await asyncio.wait_for(task, DEADLINE_S)
        assert len(result) == 40 and most[0] == 7 and counters.done == 40
        assert counters.pending == counters.in_flight == 0 and not pool.workers
        assert len([w for w in pool.workers if not w.done()]) <= 2

    asyncio.run(main())


def test_transient_failures_are_retried_and_counted() -> None:
    async def main() -> None:
        seen: dict[str, int] = {}

        async def handler(job: Job) -> dict[str, Any]:
            consistent(counters, 20)
            seen[job.key] = seen.get(job.key, 0) + 1
            if job.key == "key-0":
                raise FatalError("HTTP 400: bad request")
            if seen[job.key] < 3:
                raise TransientError("HTTP 503: try later", status=503)
            return {"ok": job.key}

        def on_record(rec: CallRecord) -> None:
            consistent(counters, 20)

        pool, counters = make_pool(handler)
        result = await asyncio.wait_for(pool.run(chat_jobs(20), on_record, None, None), DEADLINE_S)
        done = [r for r in result.values() if r.status == "done"]
        assert len(done) == 19 and all(r.attempts == 3 for r in done)
        assert result["key-0"].status == "failed" and result["key-0"].attempts == 1
        assert counters.done == 19 and counters.failed == 1 and counters.retrying == 0
        assert counters.input_tokens == 19 * 3 and counters.output_tokens == 19 * 2
        consistent(counters, 20)
        assert "HTTP 503: try later" in counters.errors

    asyncio.run(main())


def test_a_call_out_of_attempts_is_recorded_failed() -> None:
    async def main() -> None:
        async def handler(job: Job) -> dict[str, Any]:
            raise TransientError("HTTP 503: try later", status=503)

        pool, counters = make_pool(handler, retry=Retry(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02))
        result = await asyncio.wait_for(pool.run(chat_jobs(5), lambda r: None, None, None), DEADLINE_S)
        assert {r.status for r in result.values()} == {"failed"} and {r.attempts for r in result.values()} == {2}
        assert counters.failed == 5 and counters.retrying == counters.pending == counters.in_flight == 0

    asyncio.run(main())


def test_cancel_leaves_queued_jobs_unsent_and_lets_calls_in_flight_finish() -> None:
    async def main() -> None:
        gate, started = asyncio.Event(), [0]

        async def handler(job: Job) -> dict[str, Any]:
            started[0] += 1
            await gate.wait()
            return {"ok": job.key}

        got: list[CallRecord] = []
        pool, counters = make_pool(handler, concurrency=4)
        task = asyncio.create_task(pool.run(chat_jobs(50), got.append, None, None))
        await until(lambda: started[0] == 4)
        consistent(counters, 50)
        pool.cancel()
        assert counters.pending == 0 and counters.in_flight == 4
        gate.set()
        result = await asyncio.wait_for(task, DEADLINE_S)
        assert result.stopped == "cancelled" and len(result) == 4 and len(got) == 4
        assert len(result.unsent) == 46 and not set(result.unsent) & set(result)
        assert started[0] == 4 and counters.done == 4 and counters.in_flight == counters.pending == 0

    asyncio.run(main())
