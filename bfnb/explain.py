"""``g.explain()`` and ``g.cost()``: why each call was (not) sent, and what the run cost.

Both read what the last run recorded: the executor's per-node reports, the call client's log of
the broker ops, the ledger's records and its origins log (which key each op entry asked for in
earlier runs).  Looking never pays: on a graph that was never run, ``explain()`` says "not run yet"
and ``cost()`` gives a dry-run estimate (the graph run with nothing sent: calls needed, calls
already in the ledger, and an upper bound in dollars).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["cost_frame", "estimate_frame", "explain_frame"]

_EXPLAIN_COLUMNS = ["op", "idx", "served", "changed", "key", "cost_usd", "error", "engine"]


def explain_frame(g: Graph, tag: str | None = None) -> pd.DataFrame:
    """One row per entry of each broker op (or of the op tagged ``tag``) in the last run.

    ``served`` is "ledger" (answered earlier, nothing sent), "sent" (called in this run), "failed",
    "pending", or "memo"/"checkpoint" when the whole op's result was reused without a lookup; for a
    sent call whose entry had an earlier answer from the same op, ``changed`` says which part of
    the request differs (prompt text, model, a parameter, ...).  ``engine`` names the engine that
    ran (``local``, ``stream``, ``ray``); ``.attrs["engine_reason"]`` says why it was chosen.
    """
    rep = g.last_run
    if rep is None:  # looking never pays
        ops = [g.node_by_tag(tag).op] if tag else [op for op in g if op.kind == "broker"]
        unrun = [{"op": op.label(), "served": "not run yet"} for op in ops]
        return pd.DataFrame({c: pd.Series([r.get(c) for r in unrun], dtype=object) for c in _EXPLAIN_COLUMNS})
    wanted = {g.node_by_tag(tag).id} if tag else {n.node_id for n in rep.nodes if n.kind == "broker"}
    log = rep.call_log
    rows: list[dict[str, Any]] = []
    for node in rep.nodes:
        if node.node_id not in wanted:
            continue
        if node.cached:
            result = rep.results.get(node.node_id)
            idxs = list(result[0].index) if result else []
            rows += [{"op": node.op_label, "idx": ix, "served": node.cached} for ix in idxs]
            continue
        for entry in log:
            if entry.op == node.op_label:
                rows += _explain_dispatch(entry, rep.run_id)
    for r in rows:
        r["engine"] = rep.engine
    columns = ["op", "idx", "served", "changed", "key", "cost_usd", "error", "engine"]
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in columns})
    frame.attrs.update(engine=rep.engine, engine_reason=rep.engine_reason)
    return frame


def _explain_dispatch(entry: Any, run_id: str) -> list[dict[str, Any]]:
    from .ledger import diff_requests

    ledger = entry.ledger
    keys, idxs, sent = entry.keys, entry.idxs, entry.sent
    records = ledger.get_many(keys)
    prev = ledger.origins.previous_keys(entry.op, idxs, before_run=run_id)
    rows = []
    for ix, key, rec in zip(idxs, keys, records, strict=True):
        status = None if rec is None else rec.status
        served = "pending" if rec is None else ("failed" if status != "done" else ("sent" if key in sent else "ledger"))
        changed: list[str] = []
        old_key = prev.get(ix)
        if served == "sent" and old_key and old_key != key:
            old = ledger.get(old_key)
            if old is not None and rec is not None:
                changed = diff_requests(old.request, rec.request or {})
        rows.append(
            {
                "op": entry.op,
                "idx": ix,
                "served": served,
                "changed": ", ".join(changed) or None,
                "key": key,
                "cost_usd": None if rec is None else rec.cost_usd,
                "error": None if rec is None else rec.error,
            }
        )
    return rows


def cost_frame(g: Graph) -> pd.DataFrame:
    """Calls, tokens and dollars per op of the last run, with a total row (unknown prices stay unknown).

    ``cost_usd`` is what this run spent (0 for answers from the ledger or a reused result);
    ``first_paid_usd`` what those results cost when they were first paid, whoever paid them.
    ``source`` says where each op's result came from (memo, checkpoint, ledger, run, not needed).
    """
    rep = g.last_run
    if rep is None:  # looking never pays: estimate instead of running
        return estimate_frame(g)
    from .brokers.pricing import total_usd
    from .versioning import first_paid_cost

    rows: list[dict[str, Any]] = [
        {
            "op": n.op_label or n.label,
            "source": n.source,
            "calls_sent": n.calls_sent,
            "calls_cached": n.calls_cached,
            "calls_failed": n.calls_failed,
            "input_tokens": n.input_tokens,
            "output_tokens": n.output_tokens,
            "cost_usd": n.cost_usd if n.source != "not needed" else 0.0,
            "first_paid_usd": first_paid_cost(rep, n),
        }
        for n in rep.nodes
        if n.kind == "broker" or n.calls_sent or n.calls_cached
    ]
    total = {
        k: sum(r[k] for r in rows)
        for k in ("calls_sent", "calls_cached", "calls_failed", "input_tokens", "output_tokens")
    }
    sums = {k: total_usd(r[k] for r in rows) for k in ("cost_usd", "first_paid_usd")}
    rows.append({"op": "total", "source": "", **total, **sums})
    df = pd.DataFrame(rows)
    for k in ("cost_usd", "first_paid_usd"):
        df[k] = df[k].astype(object)
    return df.set_index("op")


def estimate_frame(g: Graph) -> pd.DataFrame:
    """A dry run of a graph that was never run: per broker op, the calls it needs, how many are
    already in the ledger, and the most the rest can cost (each call's input bytes and max output
    tokens at the model's price; None when a price is unknown).  Nothing is sent; ``g.last_run`` is
    kept as it was.  Calls that depend on answers not yet paid (a broker op after a broker op) are
    not counted: they cannot be rendered before the first answers exist.
    """
    from .brokers.pricing import total_usd
    from .executor.run import run_graph

    before = g.last_run
    try:
        rep = run_graph(g, dispatch_brokers=False)
    finally:
        g.last_run = before
    rows: list[dict[str, Any]] = [
        {"op": n.op_label or n.label, "run": "not run yet", "calls_needed": n.pending_calls + n.calls_cached,
         "in_ledger": n.calls_cached, "to_send": n.pending_calls,
         "cost_usd_max": n.pending_usd_max if n.pending_calls else 0.0}
        for n in rep.nodes
        if n.kind == "broker"
    ]  # fmt: skip
    total = {k: sum(r[k] for r in rows) for k in ("calls_needed", "in_ledger", "to_send")}
    rows.append({"op": "total", "run": "not run yet", **total,
                 "cost_usd_max": total_usd(r["cost_usd_max"] for r in rows)})  # fmt: skip
    df = pd.DataFrame(rows)
    df["cost_usd_max"] = df["cost_usd_max"].astype(object)
    return df.set_index("op")
