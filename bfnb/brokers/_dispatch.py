"""The dispatch machinery under every :class:`~bfnb.brokers.broker.Broker`: workers, attempts, outcomes.

Split from ``base.py`` so that each reads in one sitting: ``base.py`` is what a broker *is* (its
jobs, its public controls, its snapshot); this module is how it *works*.  A fixed pool of worker
tasks pulls entries (one per distinct key) from one ``asyncio.Queue``; each attempt reserves its
budget, waits for the limiter, calls the subclass's ``_send``, and ends in exactly one of: a done
record, a backoff (``loop.call_later`` puts the entry back, holding no worker), a failed record, or
"unsent" when its runs were stopped.  Records go to every run waiting on the key, each distinct
``on_record`` once.  :class:`Dispatcher` is a mixin: it uses the attributes ``Broker.__init__`` sets.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from ..events import CallDone, CallFailed, CallRetrying, CallSent, bus
from ..keys import SECRET_FIELDS
from ..ledger.records import CallRecord, Status
from ..redaction import redact
from .budget import fallback_cost
from .jobs import BACKOFF as _BACKOFF
from .jobs import DROPPED as _DROPPED
from .jobs import QUEUED as _QUEUED
from .jobs import SENDING as _SENDING
from .jobs import TAKEN as _TAKEN
from .jobs import Entry as _Entry
from .jobs import OnRecord
from .jobs import Run as _Run
from .retry import FatalError, RateLimitError, TransientError, deadline_scope, retry_plan

__all__ = ["Dispatcher"]


def _overload(err: Exception) -> bool:
    """A 429, a timeout or a 503: the provider (or the path to it) has more than it can take."""
    return isinstance(err, RateLimitError) or getattr(err, "status", None) == 503 or str(err).startswith("timeout")

#: how long a call whose worst case does not fit yet waits for calls in flight to settle
BUDGET_WAIT_S = 0.05


class Dispatcher:
    """Worker pool and per-attempt logic of a broker (a mixin of :class:`~bfnb.brokers.broker.Broker`)."""

    def _ensure_workers(self) -> None:
        self._workers = [w for w in self._workers if not w.done()]
        want = min(self.limits.concurrency, max(1, len(self._entries)))
        for _ in range(want - len(self._workers)):
            self._workers.append(self._loop.create_task(self._worker()))

    async def _stop_workers(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            w.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    async def _abort(self) -> None:
        """The caller was cancelled and no other run needs the workers: stop everything now."""
        await self._stop_workers()
        for entry in list(self._entries.values()):
            if entry.state == _SENDING:
                self._settle_budget(entry, None)  # a call cut off in flight may still be billed
            self._drop(entry)
        self._queue = asyncio.Queue()
        self._pending = self._in_flight = self._retrying = 0

    async def _worker(self) -> None:
        queue, resumed = self._queue, self._resumed
        me = asyncio.current_task()
        while True:
            if not resumed.is_set():
                await resumed.wait()
            if len(self._workers) > self.limits.concurrency:  # set_concurrency() shrank the pool: retire
                self._workers = [w for w in self._workers if w is not me]
                return
            entry = await queue.get()
            if entry.state != _QUEUED:
                continue
            if not resumed.is_set():
                await resumed.wait()
                if entry.state != _QUEUED:
                    continue
            entry.state = _TAKEN
            group = self._gather(entry, queue) if self.packs else [entry]
            await self._attempt(group)

    async def _attempt(self, group: list[_Entry]) -> None:
        if self._gated:  # the caller's last word before paying (the ledger and claims right now)
            for entry in group:
                if entry.state == _TAKEN and not all(r.gate(entry.job.key) for r in entry.runs if r.gate is not None):
                    self._detach(entry)
            group = [e for e in group if e.state == _TAKEN]
            if not group:
                return
        if self._budgeted:
            for entry in group:
                if entry.state == _TAKEN and entry.reserved_usd is None:
                    self._reserve(entry)  # a refusal stops the run(s) and drops their unsent entries
            group = [e for e in group if e.state == _TAKEN]
            if not group:
                return
        tokens = 0
        for entry in group:
            tokens += entry.job.est_input_tokens + entry.job.max_output_tokens
        reserved = await self.limiter.acquire(tokens)
        if len(group) == 1:
            if group[0].state != _TAKEN:  # cancel() dropped it meanwhile
                return
        else:
            group = [e for e in group if e.state == _TAKEN]
            if not group:
                return
        now, emit = time.time(), bus.has_subscribers
        for entry in group:
            entry.state = _SENDING
            entry.attempts += 1
            if not entry.t_sent:
                entry.t_sent = now
            if emit:
                bus.emit(CallSent(self.name, entry.job.key, entry.attempts))
        n = len(group)
        self._pending -= n
        self._in_flight += n
        first_sent = min(e.t_sent for e in group)
        adaptive, t_attempt = self.adaptive, time.monotonic()
        try:
            with deadline_scope(first_sent + self.retry.timeouts.call_deadline):  # the transport ends it there
                if n == 1 and not self.packs:
                    results = [await self._send(group[0].job)]
                else:
                    results = await self._send_many([e.job for e in group])
        except (TransientError, FatalError) as err:
            self._in_flight -= n
            self.limiter.settle(reserved, reserved)
            # one plan for the whole request, so a packed request comes back packed
            plan = retry_plan(err, group[0].attempts, self.retry, time.time() - first_sent, self._rng)
            retry_after = getattr(err, "retry_after", None)
            if isinstance(err, RateLimitError) and retry_after and not isinstance(plan, str):
                self.limiter.pause(retry_after)  # never for a wait retry_plan refused (an hour)
            if adaptive is not None and _overload(err):
                self._adapt(adaptive.on_overload())
            for entry in group:
                self._failed_attempt(entry, err, plan)
            return
        except asyncio.CancelledError:
            self._in_flight -= n
            raise
        except Exception as err:  # a bug in a handler or subclass: give up on these jobs, loudly
            self._in_flight -= n
            for entry in group:
                self._fail(entry, redact(f"{type(err).__name__}: {err}"))
            return
        if adaptive is not None:
            self._adapt(adaptive.on_success(time.monotonic() - t_attempt, self._in_flight, self.limiter.rpm))
        self._in_flight -= n
        used = 0
        for entry, (response, tin, tout) in zip(group, results, strict=True):
            used += tin + tout
            self._complete(entry, response, tin, tout)
        self.limiter.settle(reserved, used)

    def _adapt(self, limit: int) -> None:
        """Apply the adaptive controller's limit to the worker pool (growing starts workers now)."""
        if limit != self.limits.concurrency and self.adaptive is not None:
            self.limits = replace(self.limits, concurrency=limit)
            self._ensure_workers()

    def _reserve(self, entry: _Entry) -> bool:
        budget = next((r.budget for r in entry.runs if r.budget is not None), None)
        if budget is None:
            entry.reserved_usd = 0.0
            return True
        job = entry.job
        worst = self._budget_cost(job.worst_input_tokens or job.est_input_tokens, job.max_output_tokens)
        if budget.try_reserve(worst):
            entry.reserved_usd, entry.budget = worst, budget
            return True
        if budget.reserved > 1e-12 and self._loop is not None:
            # calls in flight hold reservations that their real (smaller) cost will mostly give back:
            # wait for them instead of stopping the run with most of the budget unspent
            entry.state = _BACKOFF
            self._pending -= 1
            self._retrying += 1
            entry.handle = self._loop.call_later(BUDGET_WAIT_S, self._requeue, entry)
            return False
        for run in list(entry.runs):
            if run.budget is budget:
                self._stop_run(run, "budget")
        self._set_state("budget", {"budget_usd": budget.usd, "spent_usd": budget.spent})
        return False

    # --- outcomes -------------------------------------------------------------------------------

    def _complete(self, entry: _Entry, response: dict[str, Any], tin: int, tout: int) -> None:
        job, t_done = entry.job, time.time()
        cost = self.cost(tin, tout)
        if entry.budget is not None:  # an unknown price is charged at the fallback rate (budget.py)
            self._settle_budget(entry, cost if cost is not None else fallback_cost(tin, tout, batch=self.batch))
        record = CallRecord(
            job.key, Status.DONE, job.kind, self.provider, self.model, _public(job.request), response,
            tin, tout, cost, entry.attempts, None, entry.t_sent, t_done, self.batch, job.origin,
        )  # fmt: skip
        self._done += 1
        self._in_tokens += tin
        self._out_tokens += tout
        if cost is None:
            self._cost_known = False
        else:
            self._cost += cost
        self._tick(t_done, tin + tout)
        if bus.has_subscribers:
            bus.emit(CallDone(self.name, job.key, tin, tout, cost, t_done - entry.t_sent))
        self._deliver(entry, record)

    def _failed_attempt(self, entry: _Entry, err: TransientError | FatalError, delay: float | str) -> None:
        message = str(err)
        if isinstance(delay, str):  # retry_plan gave up: fatal, last attempt, too long a wait, deadline
            self._fail(entry, delay)
            return
        if entry.attempts >= self.retry.max_attempts:  # a packed request's other members count their own
            self._fail(entry, message)
            return
        if all(r.done.done() or r.results.stopped for r in entry.runs):
            self._detach(entry)  # cancelled while in flight: leave it unsent rather than retry
            return
        entry.state = _BACKOFF
        entry.handle = self._loop.call_later(delay, self._requeue, entry)
        self._retrying += 1
        self._errors.append(message)
        if bus.has_subscribers:
            bus.emit(CallRetrying(self.name, entry.job.key, entry.attempts, message, delay))

    def _requeue(self, entry: _Entry) -> None:
        if entry.state == _BACKOFF:
            self._retrying -= 1
            self._pending += 1
            entry.state, entry.handle = _QUEUED, None
            self._queue.put_nowait(entry)

    def _fail(self, entry: _Entry, message: str) -> None:
        job = entry.job
        self._settle_budget(entry, 0.0)
        record = CallRecord(
            job.key, Status.FAILED, job.kind, self.provider, self.model, _public(job.request), None,
            0, 0, None, entry.attempts, message, entry.t_sent, time.time(), self.batch, job.origin,
        )  # fmt: skip
        self._failed += 1
        self._errors.append(message)
        if bus.has_subscribers:
            bus.emit(CallFailed(self.name, job.key, message, entry.attempts))
        self._deliver(entry, record)

    def _deliver(self, entry: _Entry, record: CallRecord) -> None:
        key = record.key
        self._entries.pop(key, None)
        entry.state = _DROPPED
        called: list[OnRecord] = []
        failed = record.status == Status.FAILED
        for run in entry.runs:
            run.results[key] = record
            run.waiting.discard(key)
            if failed:
                run.failed[key] = entry.job
            elif run.failed:
                run.failed.pop(key, None)
            if run.on_record not in called:
                called.append(run.on_record)
                try:
                    run.on_record(record)
                except Exception as exc:  # the caller could not persist it: stop that run, report
                    if run.error is None:
                        run.error = exc
                    self._stop_run(run, "error")
            if not run.waiting and not run.done.done():
                run.done.set_result(None)

    def _detach(self, entry: _Entry) -> None:
        self._settle_budget(entry, 0.0)
        for run in entry.runs:
            run.waiting.discard(entry.job.key)
            run.results.unsent.append(entry.job.key)
            if not run.waiting and not run.done.done():
                run.done.set_result(None)
        entry.runs = []
        self._drop(entry)

    def _drop(self, entry: _Entry) -> None:
        if entry.state == _BACKOFF:
            entry.handle.cancel()
            self._retrying -= 1
        elif entry.state in (_QUEUED, _TAKEN):
            self._pending -= 1
        if entry.state != _SENDING:
            self._settle_budget(entry, 0.0)
        entry.state = _DROPPED
        self._entries.pop(entry.job.key, None)

    @staticmethod
    def _settle_budget(entry: _Entry, actual: float | None) -> None:
        """Replace the entry's reservation by ``actual`` dollars (None: by the reservation itself)."""
        if entry.budget is not None:
            entry.budget.commit(entry.reserved_usd or 0.0, actual)
            entry.budget = None

    def _stop_run(self, run: _Run, reason: str) -> None:
        """Stop dispatching ``run``: its unsent jobs leave the queue, calls in flight finish."""
        if run.results.stopped is not None:
            return
        run.results.stopped = reason
        for key in list(run.waiting):
            entry = self._entries.get(key)
            if entry is None or entry.state == _SENDING:
                continue
            run.waiting.discard(key)
            run.results.unsent.append(key)
            entry.runs.remove(run)
            if not entry.runs:
                self._drop(entry)
        if not run.waiting and not run.done.done():
            run.done.set_result(None)


def _public(request: dict[str, Any]) -> dict[str, Any]:
    """The request as stored in a record: without fields that may carry credentials."""
    if SECRET_FIELDS.isdisjoint(request):
        return request
    return {k: v for k, v in request.items() if k not in SECRET_FIELDS}
