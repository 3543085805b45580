"""The broker: runs expensive calls well, and knows nothing else.

A broker is to bfnb what a transport is to httpx.  Callers hand it :class:`Job`\\ s (a key and a
provider request body) and an ``on_record`` callback; it de-duplicates them by key, sends them with
a fixed pool of worker tasks pulling from one queue (bounded concurrency at a few microseconds per
job), paces every attempt through the :class:`~bfnb.brokers.limiter.Limiter`, retries transient
failures with backoff (a job waiting for its retry holds no worker), stops before a budget would be
exceeded, and passes each finished call to ``on_record`` as a :class:`~bfnb.ledger.records.CallRecord`
the moment it finishes (durability is the caller's).  Subclasses implement one narrow method,
``async _send(job) -> (response, input_tokens, output_tokens)``, raising the errors of
:mod:`bfnb.brokers.retry`.  Controls (pause, resume, cancel, retry_failed) may be called from any
thread: they are forwarded to the broker's event loop.  The UI learns what happens from events on
:data:`bfnb.events.bus` (none are built when nobody listens) and from :meth:`Broker.snapshot`.
The broker owns its worker pool (:mod:`bfnb.brokers.pool`) and counters (:mod:`bfnb.brokers.counters`);
the data types are in :mod:`bfnb.brokers.jobs`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from ..events import BrokerStateChanged, CallsCached, bus
from .budget import BudgetTracker, fallback_cost
from .concurrency import AdaptiveConcurrency
from .config import DEFAULT_RATE_LIMITS, DEFAULT_RETRY, Budget, RateLimits, Retry
from .counters import Counters
from .jobs import Gate, Job, OnRecord, RunResult
from .limiter import Limiter
from .pack_queue import PackQueue
from .pool import WorkerPool

__all__ = ["Broker", "BrokerSnapshot", "Job", "OnRecord", "RunResult", "usage_tokens"]

_UNPRICED = object()


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """What a broker panel shows; counts cover the current (or last) burst of work."""

    name: str
    state: str
    pending: int
    in_flight: int
    done: int
    cached: int
    failed: int
    retrying: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_known: bool
    requests_per_s: float
    tokens_per_s: float
    budget_usd: float | None
    eta_s: float | None
    last_errors: tuple[str, ...]
    started_at: float
    concurrency: int = 0  # calls allowed in flight now
    adaptive: bool = False  # whether that number adapts (no limit set by the user)


class Broker:
    """Base of every broker; subclasses implement :meth:`_send` (or :meth:`_send_many` and :meth:`take_more` to pack).

    A broker owns a :class:`~bfnb.brokers.pool.WorkerPool` (``pool``: queue, workers, attempts,
    delivery) and the :class:`~bfnb.brokers.counters.Counters` its snapshot reads (``counters``).
    """

    packs = False  # True: ``take_more`` may pack several jobs into one request

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        kind: str = "chat",
        limits: RateLimits | None = None,
        retry: Retry | None = None,
        limiter: Limiter | None = None,
        name: str | None = None,
        batch: bool = False,
        prices: tuple[float, float] | None = None,
    ) -> None:
        self.provider, self.model, self.kind, self.batch = provider, model, kind, batch
        self._limits = limits or DEFAULT_RATE_LIMITS
        self.name = name or f"{kind} {model}@{provider}"
        self.prices = prices  # (input, output) dollars per million tokens; overrides the price table
        self._price: Any = _UNPRICED
        self.counters = Counters()
        self.pool = WorkerPool(
            self, self.counters, concurrency=self._limits.concurrency,
            limiter=limiter or Limiter(self._limits), retry=retry or DEFAULT_RETRY,
        )  # fmt: skip
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._state = "idle"

    # --- the one method a subclass writes -------------------------------------------------------

    async def _send(self, job: Job) -> tuple[dict[str, Any], int, int]:
        """Make one call; return ``(response, input_tokens, output_tokens)`` or raise retry errors."""
        raise NotImplementedError

    async def _send_many(self, jobs: list[Job]) -> list[tuple[dict[str, Any], int, int]]:
        """Make one request for several jobs (only brokers that pack override this)."""
        return [await self._send(jobs[0])]

    def take_more(self, first: Job, queue: PackQueue) -> list[Job]:
        """Jobs to send in one request with ``first`` (packing brokers pop more from ``queue``)."""
        return [first]

    # --- what the pool owns, as the broker's settings -------------------------------------------

    @property
    def limits(self) -> RateLimits:
        """Rate limits; ``limits.concurrency`` is the pool's limit now (it moves when adaptive)."""
        if self._limits.concurrency != self.pool.concurrency:
            self._limits = replace(self._limits, concurrency=self.pool.concurrency)
        return self._limits

    @limits.setter
    def limits(self, limits: RateLimits) -> None:
        self._limits = limits
        self.pool.concurrency = limits.concurrency

    @property
    def retry(self) -> Retry:
        return self.pool.retry

    @retry.setter
    def retry(self, retry: Retry) -> None:
        self.pool.retry = retry

    @property
    def limiter(self) -> Limiter:
        return self.pool.limiter

    @property
    def adaptive(self) -> AdaptiveConcurrency | None:
        """Adapts the concurrency while calls run (set by get_broker when the user gave no limits)."""
        return self.pool.adaptive

    @adaptive.setter
    def adaptive(self, controller: AdaptiveConcurrency | None) -> None:
        self.pool.adaptive = controller

    @property
    def _workers(self) -> list[asyncio.Task[None]]:
        """The pool's worker tasks (read by tests that check none is left behind)."""
        return self.pool.workers

    # --- costs --------------------------------------------------------------------------------

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """Dollars of one call, or None if the model's price is unknown."""
        if self.prices is not None:
            usd = (input_tokens * self.prices[0] + output_tokens * self.prices[1]) / 1e6
            return usd / 2 if self.batch else usd
        price = self._price
        if price is _UNPRICED:  # looked up once per run: register_price() applies from the next run
            from .pricing import lookup_price

            price = self._price = lookup_price(self.model, self.provider)
        return None if price is None else price.cost(input_tokens, output_tokens, batch=self.batch)

    def _budget_cost(self, input_tokens: int, output_tokens: int) -> float:
        usd = self.cost(input_tokens, output_tokens)
        return fallback_cost(input_tokens, output_tokens, batch=self.batch) if usd is None else usd

    # --- running --------------------------------------------------------------------------------

    async def run(
        self,
        jobs: Iterable[Job],
        *,
        on_record: OnRecord,
        budget: BudgetTracker | Budget | None = None,
        gate: Gate | None = None,
    ) -> RunResult:
        """Send ``jobs`` (once per key); return their records by key when all are finished.

        Keys in flight for another run of this broker are shared, not sent twice.  Keys absent from
        the result were never sent (``result.unsent``): the run was cancelled, hit its budget, or
        ``gate(key)`` (asked right before each job goes out) said no.
        """
        loop = asyncio.get_running_loop()
        self.pool.bind(loop)
        self._loop, self._thread = loop, self.pool.thread
        self._price = _UNPRICED
        if isinstance(budget, Budget):
            budget = BudgetTracker(budget.usd) if budget.usd is not None else None
        return await self.pool.run(jobs, on_record, budget, gate)

    # --- controls (any thread) ------------------------------------------------------------------

    def _call(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or threading.get_ident() == self._thread:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    def pause(self) -> None:
        """Send nothing new until :meth:`resume`; calls in flight finish."""
        self._call(self._do_pause)

    def _do_pause(self) -> None:
        self.pool.pause()
        self._set_state("paused")

    def resume(self) -> None:
        self._call(self._do_resume)

    def _do_resume(self) -> None:
        self.pool.resume()
        self._set_state("running" if self.pool.runs else "idle")

    def cancel(self) -> None:
        """Stop dispatching: queued jobs stay unsent, calls in flight finish, ``run`` returns."""
        self._call(self._do_cancel)

    def _do_cancel(self) -> None:
        self.pool.cancel()
        self._set_state("cancelled")

    def retry_failed(self) -> Any:
        """Send the failed jobs of the current (else the last) run again.

        Returns a future of that run's :class:`RunResult`: a ``concurrent.futures.Future`` when
        called from another thread, an ``asyncio.Task`` inside the broker's loop.
        """
        if self._loop is None or self.pool.last_run is None:
            raise RuntimeError(f"broker {self.name!r} has not run yet")
        if threading.get_ident() == self._thread:
            return self._loop.create_task(self._retry_failed())
        return asyncio.run_coroutine_threadsafe(self._retry_failed(), self._loop)

    async def _retry_failed(self) -> RunResult:
        active = [r for r in self.pool.runs if r.failed and r.results.stopped is None]
        if active:
            return await self.pool.retry_failed(active)
        last = self.pool.last_run
        assert last is not None  # retry_failed() checked it
        jobs = list(last.failed.values())
        self.counters.failed = max(0, self.counters.failed - len(jobs))
        return await self.run(jobs, on_record=last.on_record, budget=last.budget)

    def note_cached(self, n: int, op: str = "") -> None:
        """Count ``n`` jobs the caller answered from its ledger (shown as "cached")."""
        if not self.pool.runs and not self.counters.open:
            self._new_session()
            self.counters.open = True
        self.counters.cached += n
        if bus.has_subscribers:
            bus.emit(CallsCached(self.name, n, op))

    def note_waiting(self, text: str) -> None:
        """Say that this broker's caller waits on calls another process is sending (shown in the panel)."""
        self._set_state("waiting", {"waiting": text})

    def configure(self, *, limits: RateLimits | None = None, retry: Retry | None = None) -> None:
        """Change limits or retry policy (takes effect for the next attempts)."""
        if limits is not None:
            self.adaptive = None  # limits the user set win over the adaptive controller
            self.limits = limits
            self.limiter.configure(limits)
            self._call(self.pool.ensure_workers_if_running)
        if retry is not None:
            self.retry = retry

    @property
    def concurrency(self) -> int:
        """How many calls may be in flight at once: the worker count (``limits.concurrency``)."""
        return self.pool.concurrency

    def adapt(self, controller: AdaptiveConcurrency | None) -> None:
        """Let ``controller`` set the concurrency from now on (None: keep ``limits.concurrency``)."""
        self.adaptive = controller
        if controller is not None:
            self.set_concurrency(controller.limit)

    def set_concurrency(self, n: int) -> None:
        """Change the number of calls in flight while running (an adaptive controller calls this).

        Growing starts workers at once; shrinking lets the extra workers finish their call and exit.
        Safe from any thread.
        """
        if n < 1:
            raise ValueError(f"concurrency must be >= 1, got {n}")
        self.pool.concurrency = int(n)
        self._call(self.pool.ensure_workers_if_running)

    async def aclose(self) -> None:
        """Cancel everything in progress (the process is shutting down)."""
        await self.pool.aclose()

    # --- state for the UI -------------------------------------------------------------------------

    def _set_state(self, state: str, detail: dict[str, Any] | None = None) -> None:
        if state == self._state and not detail:
            return
        self._state = state
        if bus.has_subscribers:
            bus.emit(BrokerStateChanged(self.name, state, detail or {}))

    @property
    def state(self) -> str:
        return self._state

    def _new_session(self) -> None:
        self.counters.reset()

    def snapshot(self) -> BrokerSnapshot:
        """Counts, rates (over the last ~10 s), spend and ETA, cheap enough to poll."""
        c, now = self.counters, time.time()
        rps, tps = c.rates(now)
        left = max(0, c.pending) + c.in_flight + c.retrying
        runs = self.pool.runs
        run = runs[-1] if runs else self.pool.last_run
        budget_usd = run.budget.usd if run is not None and run.budget is not None else None
        return BrokerSnapshot(
            self.name, self._state, max(0, c.pending), c.in_flight, c.done, c.cached,
            c.failed, c.retrying, c.input_tokens, c.output_tokens, c.cost_usd,
            c.cost_known, rps, tps, budget_usd, (left / rps if rps > 0 else None) if left else 0.0,
            tuple(c.errors), c.started_at, self.pool.concurrency, self.adaptive is not None,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._state}>"

    def __bfnb_fingerprint__(self) -> str:
        """Who answers (an op given this broker is fingerprinted by it): class, provider, model, kind."""
        from ..fingerprint import fingerprint

        return fingerprint((type(self).__qualname__, self.provider, self.model, self.kind))


def usage_tokens(response: dict[str, Any], default_input: int = 0) -> tuple[int, int]:
    """``(input_tokens, output_tokens)`` from an OpenAI-shaped ``usage`` (chat or embedding)."""
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return default_input, 0
    tin = usage.get("prompt_tokens", usage.get("input_tokens"))
    tout = usage.get("completion_tokens", usage.get("output_tokens"))
    return _count(tin, default_input), _count(tout, 0)


def _count(value: Any, default: int) -> int:
    """A token count from a provider (a paid answer is kept even when its usage is garbage)."""
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return n if n >= 0 else default
