"""The worker pool a broker owns: its queue, its workers, and every attempt from send to record.

A fixed pool of worker tasks pulls entries (one per distinct key) from one ``asyncio.Queue``; at
most ``concurrency`` of them run, and that limit may change while they run (``set_concurrency``,
the adaptive controller).  Each attempt reserves its budget, waits for the limiter, calls the
broker's ``_send``, and ends in exactly one of: a done record, a backoff (``loop.call_later`` puts
the entry back, holding no worker), a failed record, or "unsent" when its runs were stopped.
Records go to every run waiting on the key, each distinct ``on_record`` once.  The pool counts into
the broker's :class:`~bfnb.brokers.counters.Counters`; what it needs of the broker is the narrow
:class:`PoolHost` interface (send, price, name, state), nothing else.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from ..events import CallDone, CallFailed, CallRetrying, CallSent, CallsQueued, bus
from ..ledger.records import CallRecord, Status
from ..redaction import redact
from .budget import BudgetTracker, fallback_cost
from .concurrency import AdaptiveConcurrency
from .config import Retry
from .counters import Counters
from .entries import EntryBook, settle_budget
from .jobs import BACKOFF, QUEUED, SENDING, TAKEN, Entry, Gate, Job, OnRecord, Run, RunResult, public_request
from .limiter import Limiter
from .pack_queue import PackQueue, pack
from .retry import FatalError, RateLimitError, TransientError, deadline_scope, retry_plan

__all__ = ["BUDGET_WAIT_S", "PoolHost", "WorkerPool"]

#: how long a call whose worst case does not fit yet waits for calls in flight to settle
BUDGET_WAIT_S = 0.05

Answer = tuple[dict[str, Any], int, int]  # (response, input_tokens, output_tokens)


class PoolHost(Protocol):
    """What a worker pool needs of the broker that owns it."""

    name: str
    provider: str
    model: str
    batch: bool
    packs: bool

    @property
    def state(self) -> str: ...
    async def _send(self, job: Job) -> Answer: ...
    async def _send_many(self, jobs: list[Job]) -> list[Answer]: ...
    def take_more(self, first: Job, queue: PackQueue) -> list[Job]: ...
    def cost(self, input_tokens: int, output_tokens: int) -> float | None: ...
    def _budget_cost(self, input_tokens: int, output_tokens: int) -> float: ...
    def _set_state(self, state: str, detail: dict[str, Any] | None = None) -> None: ...


def _overload(err: Exception) -> bool:
    """A 429, a timeout or a 503: the provider (or the path to it) has more than it can take."""
    return isinstance(err, RateLimitError) or getattr(err, "status", None) == 503 or str(err).startswith("timeout")


class WorkerPool:
    """Queue, workers, attempts, retries, budget reservations and delivery of one broker."""

    def __init__(self, host: PoolHost, counters: Counters, *, concurrency: int, limiter: Limiter, retry: Retry) -> None:
        self.host = host
        self.counters = counters
        self.concurrency = concurrency  #: calls allowed in flight now (changed while running)
        self.limiter = limiter
        self.retry = retry
        #: sets ``concurrency`` while calls run (None: it stays where the user put it)
        self.adaptive: AdaptiveConcurrency | None = None
        self.paused = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: int | None = None
        self.runs: list[Run] = []
        self.last_run: Run | None = None
        self.workers: list[asyncio.Task[None]] = []
        self.book = EntryBook(counters)
        self.entries = self.book.by_key  #: one entry per distinct key in flight
        self._queue: asyncio.Queue[Entry] = asyncio.Queue()
        self._resumed = asyncio.Event()
        self._budgeted = 0  # runs in progress that have a budget
        self._gated = 0  # runs in progress that have a gate
        self._rng = random.Random()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Work on ``loop`` from now on (a broker is used by one loop at a time)."""
        if self.loop is loop:
            return
        if self.runs:
            raise RuntimeError(f"broker {self.host.name!r} is busy on another event loop")
        self.loop, self.thread = loop, threading.get_ident()
        self._queue = asyncio.Queue()
        self._resumed = asyncio.Event()
        if not self.paused:
            self._resumed.set()
        self.entries.clear()
        self.workers = []

    # --- runs -----------------------------------------------------------------------------------

    async def run(
        self, jobs: Iterable[Job], on_record: OnRecord, budget: BudgetTracker | None, gate: Gate | None
    ) -> RunResult:
        """Send ``jobs`` once per key (keys in flight for another run are shared); see ``Broker.run``."""
        assert self.loop is not None  # bind() first
        run = Run(on_record, budget, self.loop.create_future(), gate)
        queue, entries, fresh, op = self._queue, self.entries, 0, ""
        for job in jobs:
            key = job.key
            if key in run.waiting:
                continue
            run.waiting.add(key)
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = Entry(job)
                queue.put_nowait(entry)
                fresh += 1
                op = op or job.op
            entry.runs.append(run)
        if not run.waiting:
            return run.results
        counters = self.counters
        if not self.runs and not counters.open:
            counters.reset()
        counters.open = True
        self.runs.append(run)
        self.last_run = run
        self._budgeted += budget is not None
        self._gated += gate is not None
        counters.pending += fresh
        self.host._set_state("paused" if self.paused else "running")
        self.ensure_workers()
        if fresh and bus.has_subscribers:
            bus.emit(CallsQueued(self.host.name, fresh, op))
        try:
            await run.done
        except asyncio.CancelledError:
            self.book.stop_run(run, "cancelled")
            if all(r.done.done() for r in self.runs if r is not run):
                await self.abort()
            raise
        finally:
            if run in self.runs:
                self.runs.remove(run)
                self._budgeted -= budget is not None
                self._gated -= gate is not None
            if not self.runs:
                counters.open = False
                await self._stop_workers()
                if self.host.state in ("running", "paused"):
                    self.host._set_state("idle")
        if run.error is not None:
            raise run.error
        return run.results

    async def retry_failed(self, active: list[Run]) -> RunResult:
        """Queue the failed jobs of the runs in progress ``active`` again; wait for those runs."""
        for run in active:
            for key, job in run.failed.items():
                entry = self.entries.get(key)
                if entry is None:
                    entry = self.entries[key] = Entry(job)
                    self._queue.put_nowait(entry)
                    self.counters.pending += 1
                entry.runs.append(run)
                run.waiting.add(key)
                self.counters.failed = max(0, self.counters.failed - 1)
            run.failed.clear()
        self.ensure_workers()
        await asyncio.gather(*(asyncio.shield(r.done) for r in active))
        return active[-1].results

    # --- controls (on the loop) ---------------------------------------------------------------------

    def pause(self) -> None:
        self.paused = True
        self._resumed.clear()

    def resume(self) -> None:
        self.paused = False
        self._resumed.set()

    def cancel(self) -> None:
        """Stop every run: queued jobs stay unsent, calls in flight finish."""
        for run in list(self.runs):
            self.book.stop_run(run, "cancelled")
        self.resume()

    def set_concurrency(self, n: int) -> None:
        """Allow ``n`` calls in flight: growing starts workers now, shrinking retires them after their call."""
        self.concurrency = n
        self.ensure_workers_if_running()

    def ensure_workers_if_running(self) -> None:
        if self.runs and self.loop is not None:
            self.ensure_workers()

    async def aclose(self) -> None:
        for run in list(self.runs):
            self.book.stop_run(run, "cancelled")
        await self.abort()

    # --- workers --------------------------------------------------------------------------------

    def ensure_workers(self) -> None:
        assert self.loop is not None
        self.workers = [w for w in self.workers if not w.done()]
        want = min(self.concurrency, max(1, len(self.entries)))
        for _ in range(want - len(self.workers)):
            self.workers.append(self.loop.create_task(self._worker()))

    async def _stop_workers(self) -> None:
        workers, self.workers = self.workers, []
        for w in workers:
            w.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    async def abort(self) -> None:
        """The caller was cancelled and no other run needs the workers: stop everything now."""
        await self._stop_workers()
        for entry in list(self.entries.values()):
            if entry.state == SENDING:
                settle_budget(entry, None)  # a call cut off in flight may still be billed
            self.book.drop(entry)
        self._queue = asyncio.Queue()
        c = self.counters
        c.pending = c.in_flight = c.retrying = 0

    async def _worker(self) -> None:
        queue, resumed = self._queue, self._resumed
        me = asyncio.current_task()
        packs = self.host.packs
        while True:
            if not resumed.is_set():
                await resumed.wait()
            if len(self.workers) > self.concurrency:  # set_concurrency() shrank the pool: retire
                self.workers = [w for w in self.workers if w is not me]
                return
            entry = await queue.get()
            if entry.state != QUEUED:
                continue
            if not resumed.is_set():
                await resumed.wait()
                if entry.state != QUEUED:
                    continue
            entry.state = TAKEN
            group = pack(entry, queue, self.host.take_more) if packs else [entry]
            await self._attempt(group)

    async def _attempt(self, group: list[Entry]) -> None:
        if self._gated:  # the caller's last word before paying (the ledger and claims right now)
            for entry in group:
                if entry.state == TAKEN and not all(r.gate(entry.job.key) for r in entry.runs if r.gate is not None):
                    self.book.detach(entry)
            group = [e for e in group if e.state == TAKEN]
            if not group:
                return
        if self._budgeted:
            for entry in group:
                if entry.state == TAKEN and entry.reserved_usd is None:
                    self._reserve(entry)  # a refusal stops the run(s) and drops their unsent entries
            group = [e for e in group if e.state == TAKEN]
            if not group:
                return
        tokens = 0
        for entry in group:
            tokens += entry.job.est_input_tokens + entry.job.max_output_tokens
        limiter, host, counters = self.limiter, self.host, self.counters
        reserved = await limiter.acquire(tokens)
        if len(group) == 1:
            if group[0].state != TAKEN:  # cancel() dropped it meanwhile
                return
        else:
            group = [e for e in group if e.state == TAKEN]
            if not group:
                return
        now, emit = time.time(), bus.has_subscribers
        for entry in group:
            entry.state = SENDING
            entry.attempts += 1
            if not entry.t_sent:
                entry.t_sent = now
            if emit:
                bus.emit(CallSent(host.name, entry.job.key, entry.attempts))
        n = len(group)
        counters.pending -= n
        counters.in_flight += n
        first_sent = min(e.t_sent for e in group)
        adaptive, t_attempt, retry = self.adaptive, time.monotonic(), self.retry
        try:
            with deadline_scope(first_sent + retry.timeouts.call_deadline):  # the transport ends it there
                if n == 1 and not host.packs:
                    results = [await host._send(group[0].job)]
                else:
                    results = await host._send_many([e.job for e in group])
        except (TransientError, FatalError) as err:
            counters.in_flight -= n
            limiter.settle(reserved, reserved)
            # one plan for the whole request, so a packed request comes back packed
            plan = retry_plan(err, group[0].attempts, retry, time.time() - first_sent, self._rng)
            retry_after = getattr(err, "retry_after", None)
            if isinstance(err, RateLimitError) and retry_after and not isinstance(plan, str):
                limiter.pause(retry_after)  # never for a wait retry_plan refused (an hour)
            if adaptive is not None and _overload(err):
                self._adapt(adaptive.on_overload())
            for entry in group:
                self._failed_attempt(entry, err, plan)
            return
        except asyncio.CancelledError:
            counters.in_flight -= n
            raise
        except Exception as err:  # a bug in a handler or subclass: give up on these jobs, loudly
            counters.in_flight -= n
            for entry in group:
                self._fail(entry, redact(f"{type(err).__name__}: {err}"))
            return
        if adaptive is not None:
            self._adapt(adaptive.on_success(time.monotonic() - t_attempt, counters.in_flight, limiter.rpm))
        counters.in_flight -= n
        used = 0
        for entry, (response, tin, tout) in zip(group, results, strict=True):
            used += tin + tout
            self._complete(entry, response, tin, tout)
        limiter.settle(reserved, used)

    def _adapt(self, limit: int) -> None:
        """Apply the adaptive controller's limit (growing starts workers now)."""
        if limit != self.concurrency and self.adaptive is not None:
            self.concurrency = limit
            self.ensure_workers()

    def _reserve(self, entry: Entry) -> bool:
        budget = next((r.budget for r in entry.runs if r.budget is not None), None)
        if budget is None:
            entry.reserved_usd = 0.0
            return True
        job = entry.job
        worst = self.host._budget_cost(job.worst_input_tokens or job.est_input_tokens, job.max_output_tokens)
        if budget.try_reserve(worst):
            entry.reserved_usd, entry.budget = worst, budget
            return True
        if budget.reserved > 1e-12 and self.loop is not None:
            # calls in flight hold reservations that their real (smaller) cost will mostly give back:
            # wait for them instead of stopping the run with most of the budget unspent
            entry.state = BACKOFF
            self.counters.pending -= 1
            self.counters.retrying += 1
            entry.handle = self.loop.call_later(BUDGET_WAIT_S, self._requeue, entry)
            return False
        for run in list(entry.runs):
            if run.budget is budget:
                self.book.stop_run(run, "budget")
        self.host._set_state("budget", {"budget_usd": budget.usd, "spent_usd": budget.spent})
        return False

    # --- outcomes -------------------------------------------------------------------------------

    def _record(self, entry: Entry, status: str, response: dict[str, Any] | None, tin: int, tout: int,
                cost: float | None, error: str | None, t_done: float) -> CallRecord:  # fmt: skip
        job, host = entry.job, self.host
        return CallRecord(
            job.key, status, job.kind, host.provider, host.model, public_request(job.request), response,
            tin, tout, cost, entry.attempts, error, entry.t_sent, t_done, host.batch, job.origin,
        )  # fmt: skip

    def _complete(self, entry: Entry, response: dict[str, Any], tin: int, tout: int) -> None:
        host, t_done = self.host, time.time()
        cost = host.cost(tin, tout)
        if entry.budget is not None:  # an unknown price is charged at the fallback rate (budget.py)
            settle_budget(entry, cost if cost is not None else fallback_cost(tin, tout, batch=host.batch))
        record = self._record(entry, Status.DONE, response, tin, tout, cost, None, t_done)
        self.counters.add_done(tin, tout, cost, t_done)
        if bus.has_subscribers:
            bus.emit(CallDone(host.name, entry.job.key, tin, tout, cost, t_done - entry.t_sent))
        self.book.deliver(entry, record)

    def _failed_attempt(self, entry: Entry, err: TransientError | FatalError, delay: float | str) -> None:
        message = str(err)
        if isinstance(delay, str):  # retry_plan gave up: fatal, last attempt, too long a wait, deadline
            self._fail(entry, delay)
            return
        if entry.attempts >= self.retry.max_attempts:  # a packed request's other members count their own
            self._fail(entry, message)
            return
        if all(r.done.done() or r.results.stopped for r in entry.runs):
            self.book.detach(entry)  # cancelled while in flight: leave it unsent rather than retry
            return
        assert self.loop is not None
        entry.state = BACKOFF
        entry.handle = self.loop.call_later(delay, self._requeue, entry)
        self.counters.retrying += 1
        self.counters.errors.append(message)
        if bus.has_subscribers:
            bus.emit(CallRetrying(self.host.name, entry.job.key, entry.attempts, message, delay))

    def _requeue(self, entry: Entry) -> None:
        if entry.state == BACKOFF:
            self.counters.retrying -= 1
            self.counters.pending += 1
            entry.state, entry.handle = QUEUED, None
            self._queue.put_nowait(entry)

    def _fail(self, entry: Entry, message: str) -> None:
        settle_budget(entry, 0.0)
        record = self._record(entry, Status.FAILED, None, 0, 0, None, message, time.time())
        self.counters.add_failed(message)
        if bus.has_subscribers:
            bus.emit(CallFailed(self.host.name, entry.job.key, message, entry.attempts))
        self.book.deliver(entry, record)
