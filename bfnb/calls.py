"""The call client: the one path from a broker op's requests to records, keeping bfnb's promises.

Ops render requests; brokers send them; this module is everything in between, in one place, the
way an httpx ``Client`` sits over its transport.  For one batch of requests it:

1. takes an :class:`Endpoint` resolved ONCE (provider, base URL and model that actually answer),
2. keys every request by content *and* endpoint (:func:`bfnb.keys.request_key`),
3. looks the keys up in the project's ledger (answered keys cost nothing),
4. hands the missing keys to the endpoint's broker (once per key) and writes each answer to the
   ledger the moment it arrives,
5. records origins (which op entry asked for which key, for ``g.explain()``) and returns a
   :class:`Calls`: one :class:`~bfnb.ledger.records.CallRecord` (or None: not answered yet) per
   request, with the counts the run report shows.

Interface (what ops and colleagues build on)::

    from bfnb.calls import CallClient, Calls, Endpoint, resolve_endpoint

    ep = resolve_endpoint("chat", "gpt-4o-mini@openai")      # fails at once without a key
    ep.identity                                                # "openai|https://…/v1|gpt-4o-mini"
    calls = ctx.calls.fetch(ep, bodies, op="AskLLM", idxs=rows.index)   # ctx: the op's RunContext
    calls.records[i]        # CallRecord | None
    calls.status()          # ["done" | "failed" | "pending", ...]
    calls.errors()          # [None | "error text", ...]
    calls.add_to(ctx)       # calls_sent / calls_cached / tokens / cost_usd into the node's stats

``fetch`` keywords: ``idxs`` (entry ids, for origins), ``max_output_tokens`` (an int or one per
request: what a budget and the TPM limiter reserve), ``samples`` (n-sampling index per request, part
of the key), ``batch`` (the OpenAI Batch API).  An :class:`Endpoint` may carry its own ``broker``
(any :class:`~bfnb.brokers.broker.Broker`, e.g. a ``FunctionBroker`` from a user function): its
``provider``/``base_url``/``model`` then name it in keys and fingerprints.  Ops get a client from
the executor (``ctx.calls``); a script may make one: ``CallClient(project=bf.ProjectFolder("x"))``.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .before_paying import BUDGET_OUTPUT_CAP, output_bound, preflight, worst_cost
from .brokers.pricing import total_usd
from .keys import keyed_request
from .ledger.records import CallRecord, Status
from .send_once import DEFAULT_LEASE_S, say_on_stderr, send_once

__all__ = [
    "MOCK",
    "Arrivals",
    "CallClient",
    "CallLogEntry",
    "Calls",
    "Endpoint",
    "estimate_tokens",
    "mock_calls",
    "resolve_endpoint",
]


def estimate_tokens(n_bytes: int) -> int:
    """Tokens to pace by (TPM limiter): ~4 bytes per token, what the local server counts."""
    return max(1, math.ceil(n_bytes / 4))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Who answers a call: ``provider``, ``base_url`` and ``model``, part of every key and fingerprint.

    ``resolved`` is the :class:`~bfnb.brokers.providers.ResolvedModel` (it holds the API key and is
    never shown); ``broker``, when set, is the broker that answers instead of the registry's.
    """

    kind: str
    provider: str
    base_url: str
    model: str
    resolved: Any = field(default=None, compare=False, repr=False)
    broker: Any = field(default=None, compare=False, repr=False)
    mock: bool = False
    #: False for who answers for free (the built-in model, a person): no claims across processes
    paid: bool = True

    @property
    def identity(self) -> str:
        """``provider|base_url|model``: the part of a request key that says who answers."""
        tail = "|mock" if self.mock else ""
        return f"{self.provider}|{self.base_url or 'in-process'}|{self.model}{tail}"


#: True while a ``mock=True`` run plans and runs: every endpoint is the local model, marked as mock
MOCK: ContextVar[bool] = ContextVar("bfnb_mock", default=False)


@contextlib.contextmanager
def mock_calls(on: bool = True) -> Iterator[None]:
    """Within this block (a ``mock=True`` run) every endpoint is the local model, marked as mock."""
    if not on:
        yield
        return
    token = MOCK.set(True)
    try:
        yield
    finally:
        MOCK.reset(token)


def resolve_endpoint(kind: str, model_string: str, *, mock: bool | None = None) -> Endpoint:
    """Resolve ``model@provider`` once: where it is sent, with which key (raises when it is unset).

    ``mock=True`` (default: inside a ``mock=True`` run) gives the built-in local model under the
    requested name, never sending a request, keyed apart from real answers.
    """
    from .brokers.providers import resolve

    if mock is None:
        mock = MOCK.get()
    resolved = resolve(model_string, offline=True if mock else None)
    p = resolved.provider
    return Endpoint(kind, p.name, p.base_url or "", resolved.model, resolved, mock=mock, paid=not p.in_process)


@dataclass
class Calls:
    """The outcome of one :meth:`CallClient.fetch`, aligned with its requests."""

    keys: list[str]
    records: list[CallRecord | None]
    sent: int = 0
    cached: int = 0
    failed: int = 0
    pending: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    #: distinct calls left unsent by a run without dispatch, and their worst-case dollars (None: unknown price)
    unsent: int = 0
    unsent_usd_max: float | None = 0.0

    def status(self) -> list[str]:
        """Per request: ``"done"``, ``"failed"`` or ``"pending"`` (not answered yet)."""
        return ["pending" if r is None else ("done" if r.status == Status.DONE else "failed") for r in self.records]

    def errors(self) -> list[str | None]:
        """Per request: the error of a failed call, else None."""
        return [None if r is None or r.status == Status.DONE else (r.error or "failed") for r in self.records]

    def merge_counts(self, other: Calls) -> None:
        """Add ``other``'s counts to these (an op that fetched from several endpoints)."""
        self.sent += other.sent
        self.cached += other.cached
        self.failed += other.failed
        self.pending += other.pending
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        self.unsent += other.unsent
        self.unsent_usd_max = (
            None
            if self.unsent_usd_max is None or other.unsent_usd_max is None
            else (self.unsent_usd_max + other.unsent_usd_max)
        )

    def add_to(self, ctx: Any) -> None:
        """Add these calls to a node's stats (a :class:`~bfnb.op.op.RunContext`)."""
        ctx.add_stat("calls_sent", self.sent)
        ctx.add_stat("calls_cached", self.cached)
        ctx.add_stat("calls_failed", self.failed)
        ctx.add_stat("calls_pending", self.pending)
        ctx.add_stat("input_tokens", self.input_tokens)
        ctx.add_stat("output_tokens", self.output_tokens)
        if self.cost_usd is None or ctx.stats.get("cost_usd", 0.0) is None:
            ctx.stats["cost_usd"] = None
        else:
            ctx.add_stat("cost_usd", self.cost_usd)
        if self.unsent:
            ctx.add_stat("pending_calls", self.unsent)
            if self.unsent_usd_max is None or ctx.stats.get("pending_usd_max", 0.0) is None:
                ctx.stats["pending_usd_max"] = None
            else:
                ctx.add_stat("pending_usd_max", self.unsent_usd_max)
        if self.failed or self.pending:
            ctx.incomplete = True


@dataclass
class Arrivals:
    """Records of one :meth:`CallClient.fetch` as they arrive, for a look while the calls go on.

    ``fetch(..., arrivals=a)`` sets ``a.keys`` (one per request) before anything is sent, puts the
    records found in the ledger in ``a.records`` at once, and each answer the moment it is written
    to the ledger (on the broker's loop thread).  Readers take a ``dict(a.records)`` snapshot;
    nothing here is ever sent or paid for by reading it (``bfnb.executor.partial``).
    """

    keys: list[str] = field(default_factory=list)
    records: dict[str, CallRecord] = field(default_factory=dict)


#: what a broker op asked for in one run, read by ``g.explain()``
@dataclass
class CallLogEntry:
    op: str
    idxs: list[str]
    keys: list[str]
    sent: set[str]
    ledger: Any
    kind: str


class CallClient:
    """Ledger first, then the broker, then the ledger again: one per run (``ctx.calls``).

    ``dispatch=False`` sends nothing (answers come from the ledger only; the rest is pending).
    ``budget`` is a :class:`~bfnb.brokers.budget.BudgetTracker` shared by every call of the run.
    """

    def __init__(
        self,
        *,
        project: Any = None,
        budget: Any = None,
        dispatch: bool = True,
        run_id: str = "",
        lease_s: float = DEFAULT_LEASE_S,
        say: Callable[[str], None] = say_on_stderr,
    ) -> None:
        self.project = project
        self.budget = budget
        self.dispatch = dispatch
        self.run_id = run_id
        self.lease_s = lease_s
        self.say = say
        self._capped: set[str] = set()
        #: set when the budget stopped a send: (calls left unsent, dollars spent, the cap)
        self.budget_stop = False
        self.log: list[CallLogEntry] = []

    # --- the path ---------------------------------------------------------------------------------

    def ledger_for(self, project: Any = None) -> Any:
        from .project import default_project

        return (self.project or project or default_project()).ledger

    def fetch(
        self,
        endpoint: Endpoint,
        requests: Sequence[dict[str, Any]],
        *,
        op: str,
        idxs: Sequence[Any],
        max_output_tokens: int | Sequence[int] = 0,
        samples: Sequence[int] | None = None,
        batch: bool = False,
        project: Any = None,
        arrivals: Arrivals | None = None,
    ) -> Calls:
        """Serve ``requests`` from the ledger, send the missing ones, and account for both.

        ``arrivals`` (optional) is filled with records as they are found and as they arrive.
        """
        from .brokers.jobs import Job

        ident, kind = endpoint.identity, endpoint.kind
        keys: list[str] = []
        sizes: list[int] = []
        for i, r in enumerate(requests):
            k, n = keyed_request(ident, r, kind=kind, sample=samples[i] if samples else 0)
            keys.append(k)
            sizes.append(n)
        ledger = self.ledger_for(project)
        found = ledger.get_many(keys) if keys else []
        done: dict[str, CallRecord] = {}
        earlier: dict[str, CallRecord] = {}
        for k, r in zip(keys, found, strict=True):
            if r is not None:
                (done if r.status == Status.DONE else earlier)[k] = r
        outs = [max_output_tokens] * len(keys) if isinstance(max_output_tokens, int) else list(max_output_tokens)
        cap = self._output_cap(endpoint) if kind == "chat" else None
        missing: dict[str, Job] = {}
        for i, k in enumerate(keys):
            if k not in done and k not in missing:
                body, out = (
                    output_bound(requests[i], int(outs[i]), cap) if kind == "chat" else (requests[i], int(outs[i]))
                )
                missing[k] = Job(
                    key=k, kind=kind, request=body, est_input_tokens=estimate_tokens(sizes[i]),
                    max_output_tokens=out, op=op, origin={"op": op, "idx": str(idxs[i])}, worst_input_tokens=sizes[i],
                )  # fmt: skip
        n_cached = sum(1 for k in keys if k in done)
        if arrivals is not None:
            arrivals.keys = keys
            arrivals.records.update(done)
        fresh: dict[str, CallRecord] = {}
        unsent_usd: float | None = 0.0
        if missing or n_cached:
            broker = self._broker(endpoint, batch, project)
            if n_cached:
                broker.note_cached(n_cached, op)
            if missing and self.dispatch:
                fresh, waited = self._send(broker, endpoint, missing, ledger, arrivals, op)
                done.update(waited)  # answered by another process while we waited: not paid here
                n_cached += sum(1 for k in keys if k in waited)
                if arrivals is not None:
                    arrivals.records.update(waited)
            elif missing:
                unsent_usd = worst_cost(broker, missing.values())
        records: list[CallRecord | None] = []
        failed = pending = 0
        for k in keys:
            rec = done.get(k) or fresh.get(k) or (None if self.dispatch else earlier.get(k))
            records.append(rec)
            if rec is None:
                pending += 1
            elif rec.status != Status.DONE:
                failed += 1
        calls = Calls(keys, records, len(fresh), n_cached, failed, pending)
        if missing and not self.dispatch:
            calls.unsent, calls.unsent_usd_max = len(missing), unsent_usd
        costs: list[float | None] = []
        for rec in fresh.values():
            calls.input_tokens += rec.input_tokens
            calls.output_tokens += rec.output_tokens
            if rec.status == Status.DONE:
                costs.append(rec.cost_usd)
        calls.cost_usd = total_usd(costs)
        str_idxs = [str(i) for i in idxs]
        try:
            ledger.origins.record_origins(op, self.run_id, str_idxs, keys)
        except Exception:  # explain() is a convenience; never fail a run over it
            pass
        self.log.append(CallLogEntry(op, str_idxs, keys, set(fresh), ledger, kind))
        return calls

    # --- parts ------------------------------------------------------------------------------------

    def _output_cap(self, endpoint: Endpoint) -> int | None:
        """Under a budget, the max tokens set on calls that set none (said once per run)."""
        if self.budget is None or getattr(self.budget, "usd", None) is None:
            return None
        from .brokers.pricing import output_limit

        cap = min(output_limit(endpoint.model) or BUDGET_OUTPUT_CAP, BUDGET_OUTPUT_CAP)
        if endpoint.model not in self._capped:
            self._capped.add(endpoint.model)
            self.say(f"under a budget, {endpoint.model} calls without max tokens are capped at {cap:,} output "
                     "tokens (set max_completion_tokens to choose)")  # fmt: skip
        return cap

    def _broker(self, endpoint: Endpoint, batch: bool, project: Any) -> Any:
        if endpoint.broker is not None:
            return endpoint.broker
        from .brokers.registry import get_broker

        if endpoint.mock:  # the local model, under the asked name, recorded with provider "mock"
            return get_broker(endpoint.kind, endpoint.resolved, mock=True)

        state_path: str | None = None
        if batch:
            from .project import default_project

            proj = self.project or project or default_project()
            state_path = os.fspath(proj.ledger_dir / "batches.jsonl")
        return get_broker(endpoint.kind, endpoint.resolved, batch=batch, state_path=state_path)

    def _send(
        self,
        broker: Any,
        endpoint: Endpoint,
        jobs: dict[str, Any],
        ledger: Any,
        arrivals: Arrivals | None = None,
        op: str = "call",
    ) -> tuple[dict[str, CallRecord], dict[str, CallRecord]]:
        """(records this process paid for, records another process answered while we waited)."""
        preflight(endpoint, ledger, op=op)  # what would fail after paying fails now, before the first request
        on_record = ledger.append
        if arrivals is not None:
            seen = arrivals.records

            def on_record(rec: CallRecord) -> None:  # durable first, then visible to a look
                ledger.append(rec)
                seen[rec.key] = rec

        if not getattr(broker, "waits", True):  # a broker that answers later (a person): hand over, don't wait
            broker.offer(list(jobs.values()), on_record)
            return {}, {}
        from .executor.loop import run_sync
        from .op import progress

        def send(batch: list[Any], gate: Any = None) -> Any:
            result = run_sync(broker.run(batch, on_record=on_record, budget=self.budget, gate=gate))
            if result.stopped == "budget":
                self.budget_stop = True
            return result

        def say(text: str) -> None:
            broker.note_waiting(text)
            self.say(text)

        with progress.active(broker):
            if not endpoint.paid:
                return dict(send(list(jobs.values()))), {}
            return send_once(jobs, ledger, send, lease_s=self.lease_s, say=say)
