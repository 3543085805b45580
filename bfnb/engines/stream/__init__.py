"""The ``stream`` engine: a chain of ops, chunk by chunk, in bounded memory, first rows early.

A chain ``source → op → … → writer`` becomes a pipeline of Python generators, one per node
(:mod:`.stream_translate` says how each op treats chunks).  The writer pulls a chunk through every op and
appends it to its temporary file before the source reads the next one, so memory holds a few
chunks, not the file, and the first rows exist on disk within a chunk's time.  Broker ops keep
several chunks in flight (their calls overlap across chunks); a ``TakeFirstN`` stops the source
early; Sort and Shuffle spill to disk and reorder by buckets; other barriers gather their whole
input (see :mod:`bfnb.engines.engine` for the one meaning of memo,
barrier and writer all engines share).  Chunks of a node are fed to ``ctx.listener`` as they are
made, for live partial results.

``auto`` picks this engine for a chain whose source reads in chunks and whose every other op
streams (row-wise, broker, take, JSONL writer, Sort by fields, Shuffle; see
:meth:`Engine.auto_reason`); ``g.run(engine="stream")`` runs any chain (barriers gather).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import weakref
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pandas as pd

from ... import batch as B
from ...convert import batch_to_jsonl_bytes
from ...errors import OpError
from ...events import NodeStarted, RunFinished, RunStarted, bus
from ...executor.memo import memo as default_memo
from ...executor.run import (
    _ROWS_SEEN,
    NodeReport,
    RunReport,
    _every_node,
    _fill_stats,
    _run_op,
    _say_budget_stop,
    _subgraph_runner,
)
from ...formats.atomic import atomic_open
from ...op import progress
from ...op.op import RunContext
from ...op.sinks import _require
from ..engine import Engine as _Base
from ..engine import EngineContext, start_run
from ..engine_auto import chain_problem, reason_before_steps
from .chunks import gather, read_jsonl_chunks, slices
from .spill import permuted
from .stream_translate import chunked_source, step

if TYPE_CHECKING:
    from ...graph.graph import Graph, Node
    from ...graph.plan import Plan

__all__ = ["Engine"]

#: kinds that run chunk by chunk (``barrier`` gathers its whole input)
_STREAMING_KINDS = {"rowwise", "broker", "take", "writer", "permute"}


class Engine(_Base):
    """Runs a chain chunk by chunk."""

    name = "stream"
    #: entries per chunk (tests set it small to cross chunk boundaries on small data)
    chunk_rows: int = 50_000
    #: chunks of a broker op in flight at once
    broker_chunks_in_flight: int = 4

    def shape_problem(self, graph: Graph, ctx: EngineContext) -> str | None:
        return chain_problem(graph)

    def streams(self, op: Any) -> bool:
        """Whether ``op`` runs chunk by chunk here (rather than gathering its whole input)."""
        return self.supports(op) and step(op).kind in _STREAMING_KINDS

    def auto_reason(self, plan: Plan, ctx: EngineContext) -> str | None:
        """None when ``auto`` should stream this graph, else why the whole-batch engine runs it.

        ``auto`` streams a chain whose every op streams (:meth:`streams`: row-wise, broker, take,
        JSONL writer, Sort by fields, Shuffle) and whose source reads in chunks (``ReadJsonl``).
        A source read whole (``FromList``, Parquet, CSV, a ``.json`` document, a shuffled or offset
        ``ReadJsonl``) stays on ``local``: its data is already in memory, so streaming bounds
        nothing and gives no earlier first row than the read itself, while ``local`` sends a broker
        op's calls over the whole batch at once.  A gathering barrier (loop, collector, other
        writer) would hold the whole batch anyway, so it stays on ``local`` too.  So do runs whose
        user-visible behaviour depends on the whole batch: a cost estimate (nothing dispatched)
        and a run under a budget (which entries get paid before the stop follows the send order).
        """
        reason = reason_before_steps(ctx, self.shape_problem)  # also decided there without importing this engine
        if reason is not None:
            return reason
        g = ctx.graph
        for nid in plan.order[1:]:
            op = g.node(nid).op
            if not self.streams(op):
                return f"{op.label()} gathers its whole input"
        kinds = [step(g.node(nid).op).kind for nid in plan.order[1:]]
        brokers = "broker" in kinds
        if brokers and "take" in kinds and kinds.index("broker") < len(kinds) - 1 - kinds[::-1].index("take"):
            return "a TakeFirstN after a broker op stops early, so fewer calls would be sent (and paid) than on the whole batch"
        if brokers and not ctx.dispatch_brokers:
            return "a cost estimate (nothing dispatched) prices the whole batch"
        if brokers and ctx.options.get("budget_usd") is not None:
            return "a budget stop pays entries in the whole batch's send order"
        return None

    # --- running ----------------------------------------------------------------------------

    def execute(self, plan: Plan, ctx: EngineContext) -> RunReport:
        g = ctx.graph
        run = _StreamRun(self, plan, ctx)
        report = RunReport(run.run_id, weakref.ref(g), {}, tail_id=g.tail_id, call_log=run.calls.log)
        if not g.nodes:
            return report
        bus.emit(RunStarted(run.run_id, len(plan.order)))
        try:
            with progress.run_scope(background=bool(ctx.options.get("_background")), partial=ctx.listener):
                run.drive()
        except BaseException as exc:
            bus.emit(RunFinished(run.run_id, time.perf_counter() - run.t0, error=f"{type(exc).__name__}: {exc}"))
            raise
        report.results = run.results
        report.nodes = _every_node(g, plan, run.reports, False)  # nodes upstream of a hit: "not needed"
        report.seconds = time.perf_counter() - run.t0
        bus.emit(RunFinished(run.run_id, report.seconds))
        g.last_run = report
        if run.calls.budget_stop:
            _say_budget_stop(report, run.calls.budget)
        return report


class _StreamRun:
    """One run of a chain: builds the generator pipeline, drives it, keeps reports and results."""

    def __init__(self, engine: Engine, plan: Plan, ctx: EngineContext) -> None:
        self.engine, self.plan, self.ctx = engine, plan, ctx
        self.t0 = time.perf_counter()
        self.rows = max(1, int(engine.chunk_rows))
        self.run_id, self.options, self.calls = start_run(ctx)
        g = ctx.graph
        self.nodes: list[Node] = [g.node(nid) for nid in plan.order]
        self.keep = set(ctx.targets) | ({g.tail_id} if ctx.keep_tail and g.tail_id is not None else set())
        # as the whole-batch engine: tagged nodes' results are reported (versions), and broker
        # results (paid work, bounded by the calls) are memoised per node, so a re-run after an
        # edit downstream reuses them from the memo
        # (not upstream of a TakeFirstN, which stops reading: those nodes see only the first rows)
        takes = [i for i, n in enumerate(self.nodes) if step(n.op).kind == "take"]
        whole = self.nodes[takes[-1] + 1 :] if takes else self.nodes
        self.keep |= {n.id for n in whole if n.tag}
        self.memo_only = {n.id for n in whole if n.op.kind == "broker" and ctx.use_memo} - self.keep
        self.keep |= self.memo_only
        self.kept: dict[int, list[pd.DataFrame]] = {nid: [] for nid in self.keep}
        self.reports: dict[int, NodeReport] = {}
        self.contexts: dict[int, RunContext] = {}
        self.results: dict[int, list[pd.DataFrame]] = {}

    # -- memo and checkpoints: the same lookups as the whole-batch engine, from the tail back --
    def _served(self) -> tuple[int, Any, str]:
        if not self.ctx.use_memo:
            return 0, None, ""
        for i in range(len(self.nodes) - 1, -1, -1):
            op = self.nodes[i].op
            if op.side_effect or any(n.op.side_effect for n in self.nodes[:i]):
                continue  # a writer upstream must still see its input
            fp = self.plan.fingerprints[self.nodes[i].id]
            hit = default_memo.get(fp)
            if hit is not None:
                return i + 1, hit[0], "memo"
            loader = getattr(op, "load_checkpoint", None)
            if loader is not None:
                loaded = loader(fp, self.options.get("project"))
                if loaded is not None:
                    default_memo.put(fp, [loaded])
                    return i + 1, loaded, "checkpoint"
        return 0, None, ""

    def drive(self) -> None:
        start, seed, how = self._served()
        stream: Iterator[pd.DataFrame] | None = None
        if seed is not None:
            node = self.nodes[start - 1]
            rep = self._report(node)
            rep.cached, rep.rows_out = how, len(seed)
            stream = slices(seed, self.rows)
            if node.id in self.keep:
                self.kept[node.id].append(seed)
        upstream: list[Node] = []
        for node in self.nodes[start:]:
            stream = self._tap(node, self._stage(node, stream, upstream))
            upstream.append(node)
        assert stream is not None
        for _ in stream:  # pull every chunk through the whole chain
            pass
        for node in self.nodes:
            if node.id not in self.reports:
                continue  # upstream of a memo or checkpoint hit: not run, as in the whole-batch engine
            rep = self.reports[node.id]
            _fill_stats(rep, self.contexts[node.id].stats if node.id in self.contexts else {})
            rep.incomplete = bool(self.contexts.get(node.id) and self.contexts[node.id].incomplete)
            if not rep.cached:
                _ROWS_SEEN[rep.fingerprint] = rep.rows_out
            bus.emit(rep.finished(self.run_id))
        for nid, parts in self.kept.items():
            if nid not in self.reports:
                continue  # upstream of a memo or checkpoint hit: not run
            whole = gather(parts) if parts else B.empty()
            if nid not in self.memo_only:  # report what the whole-batch engine reports (versions)
                self.results[nid] = [whole]
            op = self.ctx.graph.node(nid).op
            rep = self.reports[nid]
            if self.ctx.use_memo and op.memoize and not op.side_effect and not rep.incomplete and not rep.cached:
                default_memo.put(rep.fingerprint, [whole])

    def _report(self, node: Node) -> NodeReport:
        op = node.op
        rep = NodeReport(
            node.id, op.display_name(), op.kind, node.tag, self.plan.fingerprints[node.id], op_label=node.label()
        )
        self.reports[node.id] = rep
        return rep

    def _context(self, node: Node) -> RunContext:
        rctx = RunContext(
            run_id=self.run_id,
            node_id=node.id,
            label=node.label(),
            fingerprint=self.plan.fingerprints[node.id],
            dispatch_brokers=self.ctx.dispatch_brokers,
            project=self.options.get("project"),
            budget=self.options.get("budget"),
            options=self.options,
            calls=self.calls,
        )
        rctx.run_subgraph = _subgraph_runner(rctx, self.ctx.dispatch_brokers, self.ctx.use_memo)
        return rctx

    def _tap(self, node: Node, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Count a node's output, keep it when asked for, and show it to the listener."""
        rep = self.reports[node.id]
        keep = self.kept.get(node.id)
        listener = self.ctx.listener
        for c in chunks:
            rep.rows_out += len(c)
            if keep is not None:
                keep.append(c)
            if listener is not None:
                listener.on_chunk(node.id, c)
            yield c

    def _call(self, node: Node, rctx: RunContext, chunk: pd.DataFrame) -> pd.DataFrame:
        rep = self.reports[node.id]
        if not len(chunk):
            chunk = B.concat([chunk])  # an empty input has object fields, as the whole-batch engine gives it
        t = time.perf_counter()
        out = _run_op(node.op, [chunk] if node.op.n_in else [], rctx)[0]
        rep.seconds += time.perf_counter() - t
        return out

    def _stage(self, node: Node, upstream: Iterator[pd.DataFrame] | None, before: list[Node]) -> Iterator[pd.DataFrame]:
        rep = self._report(node)
        rctx = self._context(node)
        self.contexts[node.id] = rctx
        op = node.op
        if upstream is None:  # the source
            return self._source(node, rctx)
        kind = step(op).kind
        counted = self._counted(node, upstream)
        if kind == "rowwise":
            return (self._call(node, rctx, c) for c in counted)
        if kind == "broker":
            return self._broker(node, counted)
        if kind == "take":
            return self._take(node, counted, any(n.op.side_effect for n in before))
        if kind == "writer":
            return self._write_jsonl(node, counted)
        if kind == "permute":
            return permuted(node.op, counted, self.rows, lambda b: self._call(node, rctx, b))
        del rep
        return self._barrier(node, rctx, counted)

    def _counted(self, node: Node, upstream: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        rep = self.reports[node.id]
        started = False
        for c in upstream:
            if not started:
                bus.emit(NodeStarted(self.run_id, node.id, rep.label))
                started = True
            rep.rows_in += len(c)
            yield c

    def _source(self, node: Node, rctx: RunContext) -> Iterator[pd.DataFrame]:
        bus.emit(NodeStarted(self.run_id, node.id, self.reports[node.id].label))
        if chunked_source(node.op):
            chunks = read_jsonl_chunks(node.op, self.rows)  # type: ignore[arg-type]
            rep = self.reports[node.id]
            while True:
                t = time.perf_counter()
                chunk = next(chunks, None)
                rep.seconds += time.perf_counter() - t
                if chunk is None:
                    return
                yield chunk
        else:
            yield from slices(self._call(node, rctx, B.empty()), self.rows)

    def _broker(self, node: Node, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Several chunks in flight; results in input order; each chunk's calls durable as they end."""
        parent = self.contexts[node.id]
        pending: deque[tuple[Any, RunContext]] = deque()

        def finish(fut: Any, cctx: RunContext) -> pd.DataFrame:
            out = fut.result()
            for k, v in cctx.stats.items():
                if v is None:
                    parent.stats[k] = None
                elif k in parent.stats and parent.stats[k] is None:
                    continue
                else:
                    parent.add_stat(k, v)
            parent.incomplete = parent.incomplete or cctx.incomplete
            return out

        with ThreadPoolExecutor(self.engine.broker_chunks_in_flight, thread_name_prefix="bfnb-stream") as pool:
            try:
                for c in chunks:
                    cctx = self._context(node)
                    run_in = contextvars.copy_context()
                    pending.append((pool.submit(run_in.run, self._call, node, cctx, c), cctx))
                    while len(pending) >= self.engine.broker_chunks_in_flight:
                        yield finish(*pending.popleft())
                while pending:
                    yield finish(*pending.popleft())
            finally:
                for fut, _ in pending:
                    fut.cancel()

    def _take(self, node: Node, chunks: Iterator[pd.DataFrame], drain: bool) -> Iterator[pd.DataFrame]:
        op: Any = node.op
        skip, left = op.offset, op.n
        for c in chunks:
            if left <= 0:
                if drain:  # a writer upstream must still see its whole input
                    continue
                break  # stop reading: closing the generators closes the source's file
            if skip:
                dropped = min(skip, len(c))
                c, skip = c.iloc[dropped:], skip - dropped
            out = c.iloc[:left]
            left -= len(out)
            yield out

    def _write_jsonl(self, node: Node, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Append each chunk to a temporary file; publish it (rename) only after the last chunk."""
        op: Any = node.op
        rep = self.reports[node.id]
        try:
            with atomic_open(op.path, "wb") as f:
                for c in chunks:
                    t = time.perf_counter()
                    fields = op.output_keys if op.output_keys is not None else B.data_fields(c)
                    _require(c, fields, op)
                    try:
                        f.write(batch_to_jsonl_bytes(c, fields))
                    except TypeError as e:
                        raise OpError(str(e), op=op) from e
                    rep.seconds += time.perf_counter() - t
                    yield c
        except OSError as e:
            raise OpError(f"cannot write {str(op.path)!r}: {type(e).__name__}: {e}", op=op) from e

    def _barrier(self, node: Node, rctx: RunContext, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Gather the whole input, run the op once, then go on in chunks."""
        whole = gather(chunks)
        out = self._call(node, rctx, whole)
        op = node.op
        fp = self.plan.fingerprints[node.id]
        if self.ctx.use_memo and not rctx.incomplete:
            if getattr(op, "persist_result", False):
                op.save_checkpoint(fp, rctx.project, out)  # type: ignore[attr-defined]
            if op.memoize and not op.side_effect and op.kind in ("broker", "checkpoint", "loop"):
                default_memo.put(fp, [out])
        with contextlib.suppress(Exception):
            del whole
        yield from slices(out, self.rows)
