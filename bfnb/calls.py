"""The call client: the one path from a broker op's requests to records, keeping bfnb's promises.

Ops render requests; brokers send them; this module is everything in between, in one place, the
way an httpx ``Client`` sits over its transport.  For one batch of requests it:

1. takes an :class:`Endpoint` resolved ONCE (provider, base URL and model that actually answer),
2. keys every request by content *and* endpoint (:func:`bfnb.keys.request_key`),
3. looks the keys up in the project's ledger (answered keys cost nothing),
4. claims the missing keys, hands them to the endpoint's broker and writes each answer to the
   ledger the moment it arrives (:func:`send_once`: once per key, and once across processes),
5. records origins (for ``g.explain()``) and returns a :class:`~bfnb.call_results.Calls`: one
   :class:`~bfnb.ledger.records.CallRecord` (or None: not answered yet) per request.

The path of one prompt, in five files: ``op/llm.py`` (AskLLM renders the request) →
``op/broker_op.py`` (BrokerOp.run: endpoint, fetch, read) → this module (key, ledger, claim, the
ledger line) → ``brokers/pool.py`` (queue, limits, budget, retries) → ``brokers/chat_broker.py``
(the HTTP request)::

    ep = resolve_endpoint("chat", "gpt-4o-mini@openai")      # fails at once without a key
    ep.identity                                                # "openai|https://…/v1|gpt-4o-mini"
    calls = ctx.calls.fetch(ep, bodies, op="AskLLM", idxs=rows.index)   # ctx: the op's RunContext

An :class:`Endpoint` may carry its own ``broker`` (any :class:`~bfnb.brokers.broker.Broker`): its
``provider``/``base_url``/``model`` then name it in keys and fingerprints.  Ops get a client from
the executor (``ctx.calls``); a script may make one: ``CallClient(project=bf.ProjectFolder("x"))``.

**Pay once across processes.**  Two kernels, a script beside a notebook or Ray workers running the
same requests on one project pay for each once, through the ledger's
:class:`~bfnb.ledger.claims.ClaimStore`: claim the missing keys in one batch, re-read the ledger for
those granted, send them with a *gate* asked right before each job goes out (answered since, or the
claim lost: not sent), renew the claims every third of the lease, wait for keys another live
process holds (said once), take over what a dead owner gives up, release once recorded.  Only
endpoints that pay claim (not the built-in local model, not a person).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .before_paying import estimate_tokens, output_bound, output_cap, preflight, worst_cost
from .call_results import Arrivals, CallLogEntry, Calls
from .keys import keyed_request
from .ledger.claims import DEFAULT_LEASE_S, LeaseRenewer
from .ledger.records import CallRecord, Status

__all__ = [
    "MOCK",
    "PRESET",
    "Arrivals",
    "CallClient",
    "CallLogEntry",
    "Calls",
    "Endpoint",
    "estimate_tokens",
    "mock_calls",
    "resolve_endpoint",
]


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


#: endpoints resolved elsewhere, by ``(kind, model string, mock)``: a Ray worker answers with the
#: driver's (its provider, base URL and key), not whatever its own environment would resolve
PRESET: ContextVar[dict[tuple[str, str, bool], Endpoint] | None] = ContextVar("bfnb_preset_endpoints", default=None)


def resolve_endpoint(kind: str, model_string: str, *, mock: bool | None = None) -> Endpoint:
    """Resolve ``model@provider`` once: where it is sent, with which key (raises when it is unset).

    ``mock=True`` (default: inside a ``mock=True`` run) gives the built-in local model under the
    requested name, never sending a request, keyed apart from real answers.
    """
    from .brokers.providers import resolve

    if mock is None:
        mock = MOCK.get()
    preset = PRESET.get()
    if preset is not None and (kind, model_string, mock) in preset:
        return preset[(kind, model_string, mock)]
    resolved = resolve(model_string, offline=True if mock else None)
    p = resolved.provider
    return Endpoint(kind, p.name, p.base_url or "", resolved.model, resolved, mock=mock, paid=not p.in_process)


def say_on_stderr(text: str) -> None:
    """The default way the client says what it waits on (another process's calls) or caps."""
    print(f"bfnb: {text}", file=sys.stderr, flush=True)


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

        ``idxs``: entry ids (origins); ``max_output_tokens``: an int or one per request (what a
        budget and the TPM limiter reserve); ``samples``: n-sampling index per request (part of the
        key); ``batch``: the OpenAI Batch API; ``arrivals``: filled with records as they arrive.
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
        # without dispatch an earlier failed record shows; with it, a failure not retried is pending
        records = [done.get(k) or fresh.get(k) or (None if self.dispatch else earlier.get(k)) for k in keys]
        calls = Calls.of(keys, records, fresh, n_cached)
        if missing and not self.dispatch:
            calls.unsent, calls.unsent_usd_max = len(missing), unsent_usd
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
        cap = output_cap(self.budget, endpoint.model)
        if cap is not None and endpoint.model not in self._capped:
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


# --- pay once across processes ------------------------------------------------------------------

#: how often a process waiting on another's claims looks at the ledger again
POLL_S = 0.1


def send_once(
    jobs: dict[str, Any],
    ledger: Any,
    send: Callable[[list[Any], Callable[[str], bool]], Any],
    *,
    lease_s: float = DEFAULT_LEASE_S,
    say: Callable[[str], None] | None = None,
) -> tuple[dict[str, CallRecord], dict[str, CallRecord]]:
    """Get a record for each of ``jobs`` (by key), sending only what no other process is sending.

    ``send(jobs, gate)`` runs the broker and returns its ``RunResult``.  Returns ``(sent, waited)``:
    the records this process paid for, and those another process answered while we waited.  Keys
    in neither were left unsent (cancelled, budget, or an error stopped the run).
    """
    store = ledger.claims
    todo = dict(jobs)
    sent: dict[str, CallRecord] = {}
    waited: dict[str, CallRecord] = {}
    waiting_on: set[str] = set()
    renewer = LeaseRenewer(store, lease_s)
    said = False
    try:
        while todo:
            granted, held = store.acquire(list(todo), lease_s)
            if granted:
                renewer.add(granted)
                answered = _answers(ledger, granted, accept_failed=waiting_on)
                for k, rec in answered.items():
                    waited[k] = rec
                    todo.pop(k, None)
                go = [todo[k] for k in granted if k in todo]
                if go:
                    result = send(go, _gate(ledger, renewer))
                    for k, rec in result.items():
                        sent[k] = rec
                        todo.pop(k, None)
                    renewer.remove(granted)
                    store.release(granted)
                    if result.stopped is not None:  # cancelled, over budget, or the ledger failed
                        return sent, waited
                    for k, rec in _answers(ledger, list(result.unsent), accept_failed=set(result.unsent)).items():
                        waited[k] = rec
                        todo.pop(k, None)
                else:
                    renewer.remove(granted)
                    store.release(granted)
            held_keys = [k for k in held if k in todo]
            if not held_keys:
                continue
            waiting_on.update(held_keys)
            if not said and say is not None:
                owners = sorted({c.owner for c in held.values()})
                say(f"waiting for {len(held_keys):,} calls another process is sending ({', '.join(owners[:3])})")
                said = True
            deadline = time.monotonic() + POLL_S
            while True:  # until one of the held keys is answered or its claim is given up
                answered = _answers(ledger, held_keys, accept_failed=waiting_on)
                for k, rec in answered.items():
                    waited[k] = rec
                    todo.pop(k, None)
                if answered or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_S / 4)
    finally:
        renewer.stop()
        if renewer.keys:
            store.release(list(renewer.keys))
    return sent, waited


def _answers(ledger: Any, keys: list[str], *, accept_failed: set[str]) -> dict[str, CallRecord]:
    """Records now in the ledger for ``keys`` (re-read from disk): done ones, and failed ones
    for keys another process tried while we waited (its try counts; we do not pay again)."""
    found = ledger.get_many(keys, refresh=True) if keys else []
    return {k: r for k, r in zip(keys, found, strict=True)
            if r is not None and (r.status == Status.DONE or k in accept_failed)}  # fmt: skip


def _gate(ledger: Any, renewer: LeaseRenewer) -> Callable[[str], bool]:
    """Right before a job goes out: still unanswered in the ledger, and still ours."""

    others_wrote = False

    def gate(key: str) -> bool:
        nonlocal others_wrote
        if key in renewer.lost:
            return False
        # one fstat: only when another process appended since we claimed is the key looked up
        others_wrote = ledger.refresh() > 0 or others_wrote
        if not others_wrote:
            return True
        rec = ledger.get_many([key], refresh=False)[0]
        return rec is None or rec.status != Status.DONE

    return gate
