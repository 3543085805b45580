"""The OpenAI Batch API as a broker: half the price, answers within hours, resumable.

Jobs are written as one JSONL file (``custom_id`` = job key), uploaded, and submitted as a batch;
the broker then polls it and turns the output (and error) file into one record per key.  Batches
outlive processes, so every step is appended to a small JSONL state file chosen by the caller
(``state_path``): *uploaded* (file id and keys), *submitted* (batch id) and *collected* (keys handed
to ``on_record``).  A later run, in this process or a new one, reads it first: a key already in a
submitted batch that is not failed, expired or cancelled, and not yet collected, is not submitted
again; its batch is polled instead.  A file uploaded but never recorded as submitted (a crash in
between) is looked up among the server's batches by input file id.  This path uses the official
``openai`` client (its cost per call does not matter at a few calls per batch); its exceptions are
translated into :mod:`bfnb.brokers.retry` errors in :func:`_translate`, and API calls are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from ..ledger.records import CallRecord, Status
from .broker import _UNPRICED, Broker, Job, OnRecord, RunResult, usage_tokens
from .budget import BudgetTracker
from .config import Budget, RateLimits, Retry
from .jobs import Gate, public_request
from .retry import (
    FatalError,
    TransientError,
    backoff_delay,
    error_for_exception,
    error_for_status,
    redact,
)

__all__ = ["BatchAPIBroker"]

_ENDPOINTS = {"chat": "/v1/chat/completions", "embedding": "/v1/embeddings"}
_DEAD = ("failed", "expired", "cancelled", "cancelling")
_FINAL = ("completed", "failed", "expired", "cancelled")


class BatchAPIBroker(Broker):
    """Broker submitting jobs through the provider's Batch API (records carry ``batch=True``).

    Parameters
    ----------
    resolved
        A :class:`~bfnb.brokers.providers.ResolvedModel`.
    state_path
        JSONL file where submitted batches are remembered across runs and processes.
    kind
        ``"chat"`` or ``"embedding"``.
    poll_interval_s
        Seconds between two status checks of unfinished batches.
    max_batch_requests
        Most requests per batch (OpenAI: 50,000).
    """

    def __init__(
        self,
        resolved: Any,
        *,
        state_path: str | os.PathLike[str],
        kind: str = "chat",
        poll_interval_s: float = 30.0,
        max_batch_requests: int = 50_000,
        limits: RateLimits | None = None,
        retry: Retry | None = None,
        name: str | None = None,
        prices: tuple[float, float] | None = None,
    ) -> None:
        provider = resolved.provider
        if kind not in _ENDPOINTS:
            raise ValueError(f"the Batch API broker runs 'chat' or 'embedding' jobs, not {kind!r}")
        if not provider.base_url:
            raise ValueError(f"provider {provider.name!r} has no base URL, so it has no Batch API")
        super().__init__(provider=provider.name, model=resolved.model, kind=kind, limits=limits, retry=retry,
                         name=name or f"batch {kind} {resolved.model}@{provider.name}", batch=True,
                         prices=prices)  # fmt: skip
        self.state_path = Path(state_path)
        self.poll_interval_s = poll_interval_s
        self.max_batch_requests = max(1, int(max_batch_requests))
        self._base_url = provider.base_url.rstrip("/")
        self._secret = resolved.api_key
        self._wake: asyncio.Event | None = None
        self._stop: str | None = None
        self._rng = random.Random()  # jitter of the API calls' backoff
        self._reserved_usd: dict[str, float] = {}

    def _client(self) -> Any:
        import openai

        t = self.retry.timeouts
        timeout = openai.Timeout(self.retry.timeout_s or t.read, connect=t.connect)
        return openai.AsyncOpenAI(base_url=self._base_url, api_key=self._secret or "sk-none", max_retries=0,
                                  timeout=timeout)  # fmt: skip

    # --- state file ----------------------------------------------------------------------------

    def _append(self, **line: Any) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state_path, "ab") as f:
            f.write(orjson.dumps({"t": time.time(), **line}) + b"\n")
            f.flush()
            os.fsync(f.fileno())

    def batches(self) -> dict[str, dict[str, Any]]:
        """Known batches from the state file: id → {status, keys, collected, input_file_id, t}."""
        uploads: dict[str, dict[str, Any]] = {}
        out: dict[str, dict[str, Any]] = {}
        try:
            raw = self.state_path.read_bytes()
        except FileNotFoundError:
            return out
        for line in raw.splitlines():
            try:
                d = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line from a crash
            ev = d.get("event")
            if ev == "uploaded":
                uploads[d["input_file_id"]] = {"keys": d["keys"], "t": d["t"]}
            elif ev == "submitted":
                up = uploads.pop(d["input_file_id"], {"keys": [], "t": d["t"]})
                out[d["batch_id"]] = {"status": "validating", "keys": up["keys"], "collected": set(),
                                      "input_file_id": d["input_file_id"], "t": up["t"]}  # fmt: skip
            elif ev == "status" and d.get("batch_id") in out:
                out[d["batch_id"]]["status"] = d["status"]
            elif ev == "collected" and d.get("batch_id") in out:
                out[d["batch_id"]]["collected"].update(d["keys"])
        for fid, up in uploads.items():  # uploaded, submission unknown: resolved against the server
            out[f"?{fid}"] = {"status": "unknown", "keys": up["keys"], "collected": set(), "input_file_id": fid,
                              "t": up["t"]}  # fmt: skip
        return out

    # --- the API, with retries and one translation of errors -----------------------------------

    async def _api(self, fn: Any, *args: Any, **kw: Any) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn(*args, **kw)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                err = _translate(exc, self._secret)
                if isinstance(err, FatalError) or attempt >= self.retry.max_attempts:
                    raise err from None
                await asyncio.sleep(backoff_delay(attempt, self.retry, err.retry_after, self._rng))

    # --- running -------------------------------------------------------------------------------

    async def run(
        self,
        jobs: Any,
        *,
        on_record: OnRecord,
        budget: BudgetTracker | Budget | None = None,
        gate: Gate | None = None,
    ) -> RunResult:
        """Submit the jobs not already in a live batch, wait for every batch, return records by key.

        ``gate(key)`` is asked right before a job is submitted; False leaves it unsent.
        """
        if isinstance(budget, Budget):
            budget = BudgetTracker(budget.usd) if budget.usd is not None else None
        self._price = _UNPRICED
        wanted: dict[str, Job] = {}
        for job in jobs:
            wanted.setdefault(job.key, job)
        result = RunResult()
        if not wanted:
            return result
        loop = asyncio.get_running_loop()
        self._loop, self._thread = loop, threading.get_ident()
        self._wake, self._stop, self._reserved_usd = asyncio.Event(), None, {}
        if not self.counters.open:
            self._new_session()
        self.counters.open = True
        self._last_batch_run = (list(wanted.values()), on_record, budget)
        self._set_state("paused" if self.pool.paused else "running")
        # importing openai takes seconds on a slow machine: do it off the loop other brokers share
        client = await asyncio.to_thread(self._client)
        try:
            live = await self._attach(client, wanted)
            attached = {k for b in live.values() for k in b["keys"]}
            fresh = [j for k, j in wanted.items() if k not in attached]
            if gate is not None:
                refused = {j.key for j in fresh if not gate(j.key)}
                result.unsent.extend(refused)
                fresh = [j for j in fresh if j.key not in refused]
            if budget is not None:
                fresh = self._within_budget(fresh, budget, result)
            self.counters.pending = len(fresh)
            self.counters.in_flight = len(attached)
            for start in range(0, len(fresh), self.max_batch_requests):
                if self._stop:
                    result.unsent.extend(j.key for j in fresh[start:])
                    break
                chunk = fresh[start : start + self.max_batch_requests]
                bid, info = await self._submit(client, chunk)
                live[bid] = info
                self.counters.pending -= len(chunk)
                self.counters.in_flight += len(chunk)
            await self._poll(client, live, wanted, on_record, result)
        finally:
            await client.close()
            self.counters.open = False
            if self._state in ("running", "paused"):
                self._set_state("idle")
        result.stopped = result.stopped or self._stop
        return result

    def _within_budget(self, fresh: list[Job], budget: BudgetTracker, result: RunResult) -> list[Job]:
        for i, job in enumerate(fresh):
            worst = self._budget_cost(job.worst_input_tokens or job.est_input_tokens, job.max_output_tokens)
            if budget.try_reserve(worst):
                self._reserved_usd[job.key] = worst
            else:
                result.unsent.extend(j.key for j in fresh[i:])
                result.stopped = "budget"
                self._set_state("budget", {"budget_usd": budget.usd, "spent_usd": budget.spent})
                return fresh[:i]
        return fresh

    async def _attach(self, client: Any, wanted: dict[str, Job]) -> dict[str, dict[str, Any]]:
        """Batches of the state file holding wanted, uncollected keys and still alive."""
        live: dict[str, dict[str, Any]] = {}
        claimed: set[str] = set()
        for bid, info in self.batches().items():
            if info["status"] in _DEAD:
                continue
            keys = [k for k in info["keys"] if k in wanted and k not in info["collected"] and k not in claimed]
            if not keys:
                continue
            if bid.startswith("?"):  # uploaded before a crash: was it submitted?
                found = await self._find_batch(client, info["input_file_id"])
                if found is None:
                    continue
                bid = found
                self._append(event="submitted", batch_id=bid, input_file_id=info["input_file_id"])
            live[bid] = {**info, "keys": keys}
            claimed.update(keys)
        return live

    async def _find_batch(self, client: Any, input_file_id: str) -> str | None:
        page = await self._api(client.batches.list, limit=100)
        for b in page.data:
            if b.input_file_id == input_file_id:
                return str(b.id)
        return None

    async def _submit(self, client: Any, jobs: list[Job]) -> tuple[str, dict[str, Any]]:
        endpoint = _ENDPOINTS[self.kind]
        lines = []
        for job in jobs:
            body = job.request if "model" in job.request else {**job.request, "model": self.model}
            lines.append(
                orjson.dumps({"custom_id": job.key, "method": "POST", "url": endpoint, "body": public_request(body)})
            )
        data = b"\n".join(lines) + b"\n"
        f = await self._api(client.files.create, file=("bfnb_batch.jsonl", data), purpose="batch")
        keys = [j.key for j in jobs]
        self._append(event="uploaded", input_file_id=f.id, keys=keys)
        b = await self._api(client.batches.create, input_file_id=f.id, endpoint=endpoint, completion_window="24h",
                            metadata={"created_by": "bfnb"})  # fmt: skip
        self._append(event="submitted", batch_id=b.id, input_file_id=f.id)
        return str(b.id), {
            "status": b.status,
            "keys": keys,
            "collected": set(),
            "input_file_id": f.id,
            "t": time.time(),
        }

    async def _poll(
        self, client: Any, live: dict[str, dict[str, Any]], wanted: dict[str, Job], on_record: OnRecord,
        result: RunResult,
    ) -> None:  # fmt: skip
        while live and not self._stop:
            assert self._wake is not None  # run() set it
            if self.pool.paused:
                await self._wake.wait()
                continue
            for bid in list(live):
                b = await self._api(client.batches.retrieve, bid)
                if b.status in _FINAL:
                    self._append(event="status", batch_id=bid, status=b.status)
                    await self._collect(client, b, live.pop(bid), wanted, on_record, result)
            if live and not self._stop:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
                self._wake.clear()
        for info in live.values():
            result.unsent.extend(k for k in info["keys"] if k not in result)

    async def _collect(
        self, client: Any, batch: Any, info: dict[str, Any], wanted: dict[str, Job], on_record: OnRecord,
        result: RunResult,
    ) -> None:  # fmt: skip
        answers: dict[str, dict[str, Any]] = {}
        for fid in (batch.output_file_id, batch.error_file_id):
            if fid:
                content = await self._api(client.files.content, fid)
                for line in content.content.splitlines():
                    if line.strip():
                        d = orjson.loads(line)
                        answers[d["custom_id"]] = d
        t_done, budget = time.time(), self._last_batch_run[2]
        delivered = []
        for key in info["keys"]:
            job = wanted[key]
            d = answers.get(key)
            resp = (d or {}).get("response") or {}
            body = resp.get("body")
            if d is not None and resp.get("status_code") == 200 and isinstance(body, dict):
                tin, tout = usage_tokens(body, job.est_input_tokens)
                cost = self.cost(tin, tout)
                record = CallRecord(key, Status.DONE, job.kind, self.provider, self.model, public_request(job.request),
                                    body, tin, tout, cost, 1, None, info["t"], t_done, True, job.origin)  # fmt: skip
                self.counters.add_done(tin, tout, cost, t_done)
            else:
                error = _line_error(d, batch)
                record = CallRecord(key, Status.FAILED, job.kind, self.provider, self.model, public_request(job.request),
                                    None, 0, 0, None, 1, redact(error, self._secret), info["t"], t_done, True,
                                    job.origin)  # fmt: skip
                self.counters.add_failed(record.error or "")
                self._last_failed[key] = job
            if budget is not None:
                actual = record.cost_usd if record.status == Status.DONE else 0.0
                if actual is None:  # unknown price: charged at the fallback rate, see budget.py
                    actual = self._budget_cost(record.input_tokens, record.output_tokens)
                budget.commit(self._reserved_usd.pop(key, 0.0), actual)
            self.counters.in_flight -= 1
            result[key] = record
            on_record(record)
            delivered.append(key)
        self._append(event="collected", batch_id=batch.id, keys=delivered)

    # --- controls ------------------------------------------------------------------------------

    def _do_resume(self) -> None:
        self.pool.paused = False
        self._set_state("running" if self.counters.open else "idle")
        if self._wake is not None:
            self._wake.set()

    def _do_cancel(self) -> None:
        """Stop waiting: submitted batches keep running at the provider and are re-attached later."""
        self._stop = "cancelled"
        self.pool.paused = False
        if self._wake is not None:
            self._wake.set()
        self._set_state("cancelled")

    def retry_failed(self) -> Any:
        """Submit the failed jobs of the last run again, as a new batch."""
        if self._loop is None:
            raise RuntimeError(f"broker {self.name!r} has not run yet")
        jobs, on_record, budget = self._last_batch_run
        failed = [j for j in jobs if j.key in self._last_failed]
        self._last_failed.clear()
        coro = self.run(failed, on_record=on_record, budget=budget)
        if threading.get_ident() == self._thread:
            return self._loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _new_session(self) -> None:
        super()._new_session()
        self._last_failed: dict[str, Job] = getattr(self, "_last_failed", {})


def _line_error(line: dict[str, Any] | None, batch: Any) -> str:
    if line is None:
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        detail = "; ".join(str(getattr(e, "message", e)) for e in errors[:3])
        return f"batch {batch.id} ended {batch.status} without an answer for this request" + (
            f": {detail}" if detail else ""
        )
    if line.get("error"):
        err = line["error"]
        return f"batch error: {err.get('message', err) if isinstance(err, dict) else err}"
    resp = line.get("response") or {}
    body = resp.get("body") or {}
    msg = body.get("error", {}).get("message") if isinstance(body.get("error"), dict) else None
    return f"HTTP {resp.get('status_code')}: {msg or 'no answer'}"


def _translate(exc: BaseException, secret: str | None) -> TransientError | FatalError:
    """The one place where ``openai`` exceptions become retry errors."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = getattr(exc, "body", None)
        return error_for_status(exc.status_code, exc.response.headers, {"error": body} if body else None,
                                str(exc), secret=secret)  # fmt: skip
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return TransientError(redact(f"{type(exc).__name__}: {exc}", secret))
    return error_for_exception(exc, secret=secret)
