"""The bridge from a broker op's batch to a broker: ledger first, then the calls still missing.

For one op run: build each entry's request, key it by content, take every key already answered
from the project's ledger, send the rest (once per key) through the shared broker for the model,
and write each answer to the ledger the moment it arrives.  The op gets back one record per entry
(or None where the call is still pending: not dispatched, cancelled, or stopped by the budget).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..keys import request_key
from ..ledger.records import CallRecord, Status
from .base import RunContext

__all__ = ["Dispatch", "estimate_tokens", "resolve_model"]


def estimate_tokens(text_chars: int) -> int:
    """~4 characters per token (what the local server counts; tiktoken needs the internet)."""
    return max(1, math.ceil(text_chars / 4))


def resolve_model(model: str) -> Any:
    """The provider and key for ``model@provider``; fails at once when the key is missing."""
    from ..brokers.providers import resolve

    return resolve(model)


@dataclass
class Dispatch:
    """Outcome of one op's dispatch, aligned with the op's entries."""

    keys: list[str]
    records: list[dict[str, Any] | None]
    sent: int
    cached: int
    failed: int
    pending: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


def provider_id(resolved: Any) -> str:
    p = resolved.provider
    return f"{p.name}|{p.base_url or 'in-process'}"


def dispatch(
    op: Any,
    ctx: RunContext,
    *,
    kind: str,
    model: str,
    requests: Sequence[dict[str, Any]],
    idxs: Sequence[str],
    est_input_tokens: Sequence[int],
    max_output_tokens: int,
    samples: Sequence[int] | None = None,
    batch: bool = False,
) -> Dispatch:
    """Serve ``requests`` from the ledger, send the missing ones, and account for both."""
    from ..brokers.base import Job
    from ..brokers.registry import get_broker
    from ..project import default_project

    resolved = resolve_model(model)
    pid = provider_id(resolved)
    keys = [
        request_key(pid, r, kind=kind, sample=samples[i] if samples else 0) for i, r in enumerate(requests)
    ]
    project = ctx.project or getattr(op, "_project", None) or default_project()
    ledger = project.ledger
    found = ledger.get_many(keys) if keys else []
    done = {k: r for k, r in zip(keys, found, strict=True) if r is not None and r.get("status") == Status.DONE}
    label = op.label()
    missing: dict[str, Any] = {}
    for i, k in enumerate(keys):
        if k not in done and k not in missing:
            missing[k] = Job(
                key=k,
                kind=kind,
                request=requests[i],
                est_input_tokens=int(est_input_tokens[i]),
                max_output_tokens=int(max_output_tokens),
                op=label,
                origin={"op": label, "idx": str(idxs[i])},
            )
    broker = get_broker(kind, model, batch=batch, **_batch_state(project, batch))
    n_cached_rows = sum(1 for k in keys if k in done)
    if n_cached_rows:
        broker.note_cached(n_cached_rows, label)
    fresh: dict[str, dict[str, Any]] = {}
    if missing and not ctx.dispatch_brokers:
        _note_pending(ctx, broker, missing.values())
    if missing and ctx.dispatch_brokers:
        from ..executor.loop import run_sync
        from . import progress

        def on_record(rec: CallRecord) -> None:
            ledger.append(rec)

        with progress.active(broker):
            result = run_sync(broker.run(list(missing.values()), on_record=on_record, budget=ctx.budget))
        fresh = {k: rec.to_dict() for k, rec in result.items()}
    # without dispatch, a call that failed in an earlier run still shows as failed (with its error)
    earlier = {} if ctx.dispatch_brokers else {k: r for k, r in zip(keys, found, strict=True) if r is not None}
    out: list[dict[str, Any] | None] = []
    failed = pending = 0
    for k in keys:
        rec = done.get(k) or fresh.get(k) or earlier.get(k)
        out.append(rec)
        if rec is None:
            pending += 1
        elif rec.get("status") != Status.DONE:
            failed += 1
    sent_keys = set(fresh)
    tin = sum(int(fresh[k].get("input_tokens") or 0) for k in sent_keys)
    tout = sum(int(fresh[k].get("output_tokens") or 0) for k in sent_keys)
    costs = [fresh[k].get("cost_usd") for k in sent_keys if fresh[k].get("status") == Status.DONE]
    cost = None if any(c is None for c in costs) else float(sum(costs))  # type: ignore[arg-type]
    try:
        ledger.origins.record_origins(label, ctx.run_id, [str(i) for i in idxs], keys)
    except Exception:  # explain() is a convenience; never fail a run over it
        pass
    _log(ctx.run_id, label, [str(i) for i in idxs], keys, set(fresh), ledger, kind)
    d = Dispatch(keys, out, len(sent_keys), len(done), failed, pending, tin, tout, cost)
    ctx.add_stat("calls_sent", d.sent)
    ctx.add_stat("calls_cached", n_cached_rows)
    ctx.add_stat("calls_failed", d.failed)
    ctx.add_stat("calls_pending", d.pending)
    ctx.add_stat("input_tokens", tin)
    ctx.add_stat("output_tokens", tout)
    if cost is None or ctx.stats.get("cost_usd", 0.0) is None:
        ctx.stats["cost_usd"] = None
    else:
        ctx.add_stat("cost_usd", cost)
    if failed or pending:
        ctx.incomplete = True
    return d


def _note_pending(ctx: RunContext, broker: Any, jobs: Any) -> None:
    """Count the calls a run without dispatch left unsent, and what they could cost at most.

    The bound is each call's worst case (its input estimate plus ``max_tokens`` of output), as a
    budget reserves it; None when a price is unknown.
    """
    worst = [broker.cost(j.est_input_tokens, j.max_output_tokens) for j in jobs]
    ctx.add_stat("pending_calls", len(worst))
    if any(w is None for w in worst) or ("pending_usd_max" in ctx.stats and ctx.stats["pending_usd_max"] is None):
        ctx.stats["pending_usd_max"] = None
    else:
        ctx.add_stat("pending_usd_max", float(sum(worst)))


#: what each broker op of the last runs asked for: run_id -> [entries]; read by ``g.explain()``
DISPATCH_LOG: dict[str, list[dict[str, Any]]] = {}
_LOG_RUNS = 32


def _log(run_id: str, label: str, idxs: list[str], keys: list[str], sent: set[str], ledger: Any, kind: str) -> None:
    runs = DISPATCH_LOG.setdefault(run_id, [])
    runs.append({"op": label, "idxs": idxs, "keys": keys, "sent": sent, "ledger": ledger, "kind": kind})
    while len(DISPATCH_LOG) > _LOG_RUNS:
        DISPATCH_LOG.pop(next(iter(DISPATCH_LOG)))


def _batch_state(project: Any, batch: bool) -> dict[str, Any]:
    if not batch:
        return {}
    return {"state_path": os.fspath(project.ledger_dir / "batches.jsonl")}
