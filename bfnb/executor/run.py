"""Run a graph: pull what is needed, reuse what is memoised or checkpointed, run the rest.

Every node runs at most once per run, on its whole input (a real barrier: a sort, a take or a
writer always sees everything that reaches it, including entries leaving loops at different
rounds, because loops are nodes that finish before their consumers start).  Nodes upstream of a
memo hit or a checkpoint hit are not run at all.
"""

from __future__ import annotations

import contextlib
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import batch as B
from ..calls import CallClient
from ..errors import BfnbError, OpError
from ..events import NodeFinished, NodeStarted, RunFinished, RunStarted, bus
from ..graph.plan import Plan, plan
from ..op import progress
from ..op.checkpoint import Persisted
from ..op.op import RunContext
from . import hooks
from .memo import memo as default_memo
from .partial import Partial

if TYPE_CHECKING:
    from ..graph.graph import Graph

__all__ = ["NodeReport", "RunReport", "run_graph"]

#: kinds whose results are always memoised; other nodes are memoised when they are a graph's tail,
#: tagged, a target, or slow.  Cheap intermediate results are recomputed instead of kept.
_ALWAYS_MEMO = {"source", "broker", "checkpoint", "loop"}
_SLOW_S = 0.2


@dataclass
class NodeReport:
    node_id: int
    label: str  # what the op is (class, model); the tag is separate
    kind: str
    tag: str | None
    fingerprint: str
    rows_in: int = 0
    rows_out: int = 0
    cached: str | bool = False  # "memo" | "checkpoint" | False
    seconds: float = 0.0
    calls_sent: int = 0
    calls_cached: int = 0
    calls_failed: int = 0
    calls_pending: int = 0
    pending_calls: int = 0  # distinct requests a run without dispatch left unsent
    pending_usd_max: float | None = 0.0  # their worst-case cost (None: a price is unknown)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    incomplete: bool = False
    op_label: str = ""  # the op's name in the graph (its tag if tagged): how ledger origins know it

    def finished(self, run_id: str) -> NodeFinished:
        """The event saying this node is done (every engine emits it the same way)."""
        return NodeFinished(
            run_id,
            self.node_id,
            self.label,
            self.rows_in,
            self.rows_out,
            bool(self.cached),
            self.seconds,
            self.fingerprint,
        )

    @property
    def source(self) -> str:
        """Where the result came from: memo, checkpoint, ledger (every call answered there), run,
        or "not needed" (upstream of a reused result, so not run at all)."""
        if self.cached:
            return str(self.cached) if isinstance(self.cached, str) else "memo"
        if self.kind == "broker" and not self.calls_sent and self.calls_cached and not self.calls_pending:
            return "ledger"
        return "run"

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "source": self.source}


@dataclass
class RunReport:
    run_id: str
    graph_ref: Any  # a weak reference: a graph keeps its last report, not the other way round
    results: dict[int, list[pd.DataFrame]]
    nodes: list[NodeReport] = field(default_factory=list)
    seconds: float = 0.0
    tail_id: int | None = None
    #: what each broker op asked the call client for (read by ``g.explain()``)
    call_log: list[Any] = field(default_factory=list)
    engine: str = "local"  # the engine that ran (see bfnb.engines)
    engine_reason: str = ""  # why it was chosen ("asked", "auto: ...")

    def result(self, node_id: int, port: int = 0) -> pd.DataFrame:
        return self.results[node_id][port]

    def tail_result(self) -> pd.DataFrame:
        if self.tail_id is None:
            return B.empty()
        if self.tail_id not in self.results:
            raise BfnbError(
                f"the {self.engine!r} engine did not keep the tail's result (g.execute() streams it); "
                "use g.run() to get it"
            )
        return self.result(self.tail_id)

    @property
    def graph(self) -> Graph | None:
        return self.graph_ref()

    def node(self, node_id: int) -> NodeReport:
        return next(n for n in self.nodes if n.node_id == node_id)

    def pending_summary(self) -> str | None:
        """``"N calls pending (≤ $x)"`` after a run that did not dispatch; None when nothing waits.

        ``x`` is the worst case of the unsent calls (input estimate + ``max_tokens`` of output each).
        """
        n = sum(r.pending_calls for r in self.nodes)
        if not n:
            return None
        from ..brokers.pricing import format_cost, total_usd

        bound = total_usd(r.pending_usd_max for r in self.nodes if r.pending_calls)
        return f"{n} call{'s' if n != 1 else ''} pending (≤ {format_cost(bound)})"

    @property
    def cost_usd(self) -> float | None:
        from ..brokers.pricing import total_usd

        return total_usd(n.cost_usd for n in self.nodes)


def _incoming(results: dict[int, list[pd.DataFrame]], edges: Iterable[Any], n_in: int) -> list[pd.DataFrame]:
    ports: list[list[pd.DataFrame]] = [[] for _ in range(n_in)]
    for e in edges:
        ports[e.dst_port].append(results[e.src][e.src_port])
    return [B.concat(p) if p else B.empty() for p in ports]


def run_graph(
    g: Graph,
    *,
    dispatch_brokers: bool = True,
    targets: Iterable[int] | None = None,
    project: Any = None,
    budget_usd: float | None = None,
    use_memo: bool = True,
    inputs: pd.DataFrame | None = None,
    input_fingerprint: str = "",
    parent: RunContext | None = None,
    plan_: Plan | None = None,
    **options: Any,
) -> RunReport:
    """Run ``g`` and return a :class:`RunReport`.

    ``inputs`` feeds the head's in-port 0 (loop and ListParallel bodies); ``parent`` is the
    context of the op running this graph as a body.
    """
    t0 = time.perf_counter()
    nested = parent is not None
    run_id = parent.run_id if parent is not None else uuid.uuid4().hex[:12]
    if parent is None:
        options.setdefault("project", project)
        if budget_usd is not None:
            options["budget"] = hooks.make_budget(budget_usd)
    else:
        options = {**parent.options, **options}
    calls = (
        parent.calls
        if parent is not None
        else CallClient(
            project=options.get("project"), budget=options.get("budget"), dispatch=dispatch_brokers, run_id=run_id
        )
    )
    p = plan_ if plan_ is not None else plan(g, input_fingerprint=input_fingerprint)
    report = RunReport(run_id, weakref.ref(g), {}, tail_id=g.tail_id, call_log=calls.log if calls is not None else [])
    if not len(g):
        return report
    partial = None
    if not nested:
        bus.emit(RunStarted(run_id, len(p.order)))
        partial = Partial(g, p.order, p.out_edges)
        if options.get("_on_partial") is not None:
            options["_on_partial"](partial)  # a RunHandle keeps it for handle.partial()

    keep = set(targets or ()) | ({g.tail_id} if g.tail_id is not None else set())
    keep |= {nid for nid, n in g.nodes_by_id.items() if n.tag}
    needed = set(keep) | {nid for nid, n in g.nodes_by_id.items() if n.op.side_effect}
    needed |= {nid for nid in p.order if not p.out_edges.get(nid)}  # every dead end runs
    if nested:
        needed |= set(p.order)

    results: dict[int, list[pd.DataFrame]] = {}
    served: dict[int, str] = {}
    reports: dict[int, NodeReport] = {}
    for nid in reversed(p.order):
        if nid not in needed:
            continue
        node = g.node(nid)
        fp = p.fingerprints[nid]
        if (
            use_memo
            and not node.op.side_effect
            and not (nested and nid == g.head_id and inputs is not None and not input_fingerprint)
        ):
            hit = default_memo.get(fp)
            if hit is not None:
                results[nid], served[nid] = hit, "memo"
                continue
            loader = getattr(node.op, "load_checkpoint", None)
            if loader is not None:
                loaded = loader(fp, options.get("project"))
                if loaded is not None:
                    results[nid], served[nid] = [loaded], "checkpoint"
                    default_memo.put(fp, results[nid])
                    continue
        for e in p.in_edges.get(nid, ()):
            needed.add(e.src)

    incomplete: dict[int, bool] = {}
    remaining = {nid: sum(1 for e in p.out_edges.get(nid, ()) if e.dst in needed) for nid in p.order}
    scope = (
        progress.run_scope(background=bool(options.get("_background")), partial=partial)
        if not nested
        else contextlib.nullcontext()
    )
    try:
        scope.__enter__()
        for nid in p.order:
            if nid not in needed:
                continue
            node = g.node(nid)
            op = node.op
            fp = p.fingerprints[nid]
            rep = NodeReport(nid, op.display_name(), op.kind, node.tag, fp, op_label=node.label())
            reports[nid] = rep
            edges = p.in_edges.get(nid, ())
            if nid in served:
                rep.cached = served[nid]
                rep.rows_out = len(results[nid][0]) if results[nid] else 0
                incomplete[nid] = False
                if partial is not None and results[nid]:
                    partial.finished(nid, results[nid][0])
                _emit_finished(nested, run_id, rep)
                continue
            ins = _incoming(results, edges, op.n_in)
            if nid == g.head_id and inputs is not None and op.n_in:
                ins[0] = B.concat([inputs, ins[0]]) if len(ins[0]) else inputs
            rep.rows_in = sum(len(b) for b in ins)
            if not nested:
                bus.emit(NodeStarted(run_id, nid, rep.label))
            ctx = RunContext(
                run_id=run_id,
                node_id=nid,
                label=rep.op_label,
                fingerprint=fp,
                dispatch_brokers=dispatch_brokers,
                project=options.get("project"),
                budget=options.get("budget"),
                options=options,
                calls=calls,
                partial=partial,
            )
            ctx.run_subgraph = _subgraph_runner(ctx, dispatch_brokers, use_memo)
            ctx.inputs_incomplete = any(incomplete.get(e.src, False) for e in edges)
            t = time.perf_counter()
            outs = _run_op(op, ins, ctx)
            rep.seconds = time.perf_counter() - t
            rep.rows_out = len(outs[0]) if outs else 0
            _ROWS_SEEN[fp] = rep.rows_out
            _fill_stats(rep, ctx.stats)
            inc = ctx.incomplete or any(incomplete.get(e.src, False) for e in edges)
            rep.incomplete = inc
            incomplete[nid] = inc
            results[nid] = outs
            memoize = op.memoize and not inc and use_memo and not op.side_effect
            if memoize and (op.kind in _ALWAYS_MEMO or (not nested and (nid in keep or rep.seconds >= _SLOW_S))):
                default_memo.put(fp, outs)
            if partial is not None and outs:
                partial.finished(nid, outs[0])
            if isinstance(op, Persisted) and op.persist_result and not inc and use_memo and not options.get("_preview"):
                op.save_checkpoint(fp, ctx.project, outs[0])  # a new process resumes from here
            if parent is not None:
                for k, v in ctx.stats.items():
                    parent.add_stat(k, v) if v is not None else parent.stats.__setitem__(k, None)
                parent.incomplete = parent.incomplete or inc
            _emit_finished(nested, run_id, rep)
            for e in edges:  # free what no one else needs
                remaining[e.src] -= 1
                if remaining[e.src] <= 0 and e.src not in keep:
                    results.pop(e.src, None)
    except BaseException as exc:
        scope.__exit__(type(exc), exc, exc.__traceback__)
        if not nested:
            bus.emit(RunFinished(run_id, time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}"))
        raise
    scope.__exit__(None, None, None)
    report.results = results
    report.nodes = _every_node(g, p, reports, nested)
    report.seconds = time.perf_counter() - t0
    if not nested:
        bus.emit(RunFinished(run_id, report.seconds))
        g.last_run = report
        if calls is not None and calls.budget_stop:
            _say_budget_stop(report, calls.budget)
    return report


def _say_budget_stop(report: RunReport, budget: Any) -> None:
    """A budget stop is visible: ``stopped by budget: N pending, $x of $y`` (the rows keep status pending)."""
    from ..brokers.pricing import format_cost

    pending = sum(n.calls_pending for n in report.nodes)
    print(f"stopped by budget: {pending:,} pending, {format_cost(budget.spent)} of {format_cost(budget.usd)}")


class _RowsSeen(dict):  # type: ignore[type-arg]
    """fingerprint → rows out, for the op chain of nodes that a later run does not need (bounded)."""

    def __setitem__(self, key: str, value: int) -> None:
        if len(self) >= 50_000:
            self.pop(next(iter(self)))
        super().__setitem__(key, value)


_ROWS_SEEN: dict[str, int] = _RowsSeen()


def _every_node(g: Graph, p: Any, reports: dict[int, NodeReport], nested: bool) -> list[NodeReport]:
    """A report for every node in plan order: the op chain shows the whole graph, not just what ran.

    A node upstream of a reused result did not run: it shows as "not needed", with the rows of its
    memoised result when the memo still has them.  A reused node's rows in are its inputs' rows out.
    """
    out = []
    for nid in p.order:
        rep = reports.get(nid)
        if rep is None:
            if nested:
                continue
            node = g.node(nid)
            fp = p.fingerprints[nid]
            rep = NodeReport(
                nid, node.op.display_name(), node.op.kind, node.tag, fp, op_label=node.label(), cached="not needed"
            )
            hit = default_memo.get(fp)
            rep.rows_out = len(hit[0]) if hit else _ROWS_SEEN.get(fp)  # type: ignore[assignment]
            reports[nid] = rep
        if rep.cached and not rep.rows_in:
            ins = [reports[e.src].rows_out for e in p.in_edges.get(nid, ()) if e.src in reports]
            rep.rows_in = sum(ins) if ins and None not in ins else (None if ins else 0)  # type: ignore[assignment]
        out.append(rep)
    return out


def _emit_finished(nested: bool, run_id: str, rep: NodeReport) -> None:
    if not nested:
        bus.emit(rep.finished(run_id))


def _fill_stats(rep: NodeReport, stats: dict[str, Any]) -> None:
    for name in (
        "calls_sent",
        "calls_cached",
        "calls_failed",
        "calls_pending",
        "pending_calls",
        "input_tokens",
        "output_tokens",
    ):
        setattr(rep, name, int(stats.get(name, 0) or 0))
    for name in ("cost_usd", "pending_usd_max"):
        if name in stats:
            setattr(rep, name, stats[name])


def _run_op(op: Any, ins: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
    try:
        outs = op.run(ins, ctx)
    except BfnbError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # an op's own bug: still say which op
        raise OpError(f"{type(e).__name__}: {e}", op=op) from e
    if not isinstance(outs, list) or len(outs) != op.n_out:
        raise OpError(f"returned {type(outs).__name__} instead of a list of {op.n_out} batch(es)", op=op)
    # ops that keep, drop or reorder their input rows cannot create a duplicate idx
    check = not getattr(op, "preserves_idx", False)
    return [B.validate(o, op=op, check_unique=check) for o in outs]


def _subgraph_runner(ctx: RunContext, dispatch_brokers: bool, use_memo: bool) -> Any:
    def run_body(body: Graph, batch: pd.DataFrame, fingerprint: str) -> pd.DataFrame:
        if not len(body):
            return batch
        rep = run_graph(
            body,
            dispatch_brokers=dispatch_brokers,
            inputs=batch,
            input_fingerprint=fingerprint,
            parent=ctx,
            use_memo=use_memo,
        )
        return rep.tail_result()

    return run_body
