"""The ``ray`` engine: the same graph on Ray Data, on this machine or a cluster (needs ``bfnb[ray]``).

A node's result is a Ray Dataset of carrier rows (:mod:`.carrier`) while it stays on the workers,
or a batch while it is on the driver.  :mod:`.ray_translate` maps each op to Ray Data
(``map_batches`` for row-wise ops, ``sort``, ``random_shuffle``, ``limit``); the rest runs on the
driver exactly as the local engine runs it, on the gathered input:

* **broker ops** (AskLLM, EmbedText, CallLLM…) run on the workers too (:mod:`.ray_calls`): each
  batch renders its requests, looks them up, claims, sends and reads the records, with the
  project's ledger and claims served by one actor on the driver's node (:mod:`.ray_ledger`), so
  workers need not see the project folder, a re-run sends 0 requests, no call is paid twice across
  workers and spend is summed once, from the records the ledger wrote.  Under a budget, without
  dispatch, for the Batch API or an op's own broker object they run on the driver, as locally;
* **writers** gather on the driver: ``WriteJsonl`` streams the Dataset's batches into a temporary
  file published at the end, others get their whole input; both write once, atomically;
* **loops** (``While``, ``Repeat``) drive their rounds from the driver and run each round's body
  on Ray; multi-port ops (``If``, ``ListParallel``'s spawn and collect) run on the driver.

Memo, barrier and writer mean what :mod:`bfnb.engines.engine` says.  Ray is started on first use
(``ray.init()`` on this machine, or the cluster ``RAY_ADDRESS`` names); a Ray you started yourself
(``ray.init(address=...)``) is used as it is.  Workers import bfnb, so a cluster's workers need it
installed (or ``runtime_env={"py_modules": [bfnb]}`` in your ``ray.init``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

try:
    import ray
    import ray.data
except ImportError as _e:  # the registry turns this into: pip install "bfnb[ray]"
    raise ImportError(str(_e), name="ray") from _e

import pandas as pd

from ... import batch as B
from ...convert import batch_to_jsonl_bytes
from ...errors import BfnbError, OpError
from ...events import NodeStarted, RunFinished, RunStarted, bus
from ...executor.memo import memo as default_memo
from ...executor.run import NodeReport, RunReport, _fill_stats, _run_op
from ...formats.atomic import atomic_open
from ...op import progress
from ...op.ask_human import AskHuman
from ...op.op import Op, RunContext
from ...op.sinks import WriteJsonl, _require
from ..engine import Engine as _Base
from ..engine import EngineContext, start_run
from ..stream.chunks import gather
from .carrier import decode, encode
from .ray_calls import run_on_workers, why_on_driver
from .ray_translate import carried, translate

if TYPE_CHECKING:
    from ...graph.graph import Graph
    from ...graph.plan import Plan

__all__ = ["Engine", "ensure_ray"]

_ALWAYS_MEMO = {"source", "broker", "checkpoint", "loop"}


def _quiet_ray_data() -> None:
    """Ray Data prints every dataset's plan to stderr at INFO, which floods a notebook cell; its
    stderr handler is turned down to errors while it is at Ray's default (its log files keep all)."""
    for handler in logging.getLogger("ray.data").handlers:
        if getattr(handler, "stream", None) is sys.stderr and handler.level == logging.INFO:
            handler.setLevel(logging.ERROR)


def ensure_ray() -> None:
    """Start Ray on this machine, or join ``RAY_ADDRESS``, unless it is running already.

    A local start is tried three times: Ray gives its raylet a fixed 30 s to come up, which a
    busy machine can miss.
    """
    _quiet_ray_data()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**kwargs)
        return
    kwargs["num_cpus"] = os.cpu_count() or 1
    for attempt in range(3):
        try:
            ray.init(**kwargs)
            return
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise


def _unwrap(exc: BaseException) -> BaseException:
    """The bfnb error a worker raised, out of Ray's wrappers (it names op, idx and field)."""
    if isinstance(exc, BfnbError):
        return exc
    return carried(exc) or exc


class Engine(_Base):
    """Runs a graph on Ray Data."""

    name = "ray"
    #: entries per ``map_batches`` batch
    batch_rows: int = 4_096

    def supports(self, op: Op) -> bool:
        # a person answers AskHuman in this kernel's widget; workers have no one to ask
        return not isinstance(op, AskHuman)

    def execute(self, plan: Plan, ctx: EngineContext) -> RunReport:
        ensure_ray()
        _quiet_ray_data()  # ray.data configures its logging on first import, maybe after ensure_ray
        data_ctx = ray.data.DataContext.get_current()
        data_ctx.execution_options.preserve_order = True  # TakeFirstN and writers see input order
        data_ctx.enable_progress_bars = False  # bfnb shows its own progress; Ray's bars would print per stage
        g = ctx.graph
        run = _RayRun(self, plan, ctx)
        report = RunReport(run.run_id, weakref.ref(g), {}, tail_id=g.tail_id, call_log=run.calls.log)
        if not g.nodes:
            return report
        bus.emit(RunStarted(run.run_id, len(plan.order)))
        try:
            with progress.run_scope(background=bool(ctx.options.get("_background"))):
                run.drive()
        except BaseException as exc:
            bus.emit(RunFinished(run.run_id, time.perf_counter() - run.t0, error=f"{type(exc).__name__}: {exc}"))
            real = _unwrap(exc)
            if real is not exc:
                raise real from None
            raise
        report.results = run.results
        report.nodes = [run.reports[nid] for nid in plan.order if nid in run.reports]
        report.seconds = time.perf_counter() - run.t0
        bus.emit(RunFinished(run.run_id, report.seconds))
        g.last_run = report
        return report


@dataclass
class _OnRay:
    """A node's result while it stays on the workers; ``empty()`` is the batch an empty result is."""

    ds: Any
    empty: Callable[[], pd.DataFrame]


class _RayRun:
    """One run: node results as Datasets (on the workers) or batches (on the driver)."""

    def __init__(self, engine: Engine, plan: Plan, ctx: EngineContext, inputs: pd.DataFrame | None = None) -> None:
        self.engine, self.plan, self.ctx = engine, plan, ctx
        self.batch_rows = engine.batch_rows
        self.t0 = time.perf_counter()
        self.run_id, self.options, self.calls = start_run(ctx)
        self.inputs = inputs
        g: Graph = ctx.graph
        self.keep = set(ctx.targets) | {nid for nid, n in g.nodes_by_id.items() if n.tag}
        if g.tail_id is not None and ctx.keep_tail:
            self.keep.add(g.tail_id)
        self.values: dict[int, list[Any]] = {}
        self.reports: dict[int, NodeReport] = {}
        self.results: dict[int, list[pd.DataFrame]] = {}

    # -- values move between the driver (batches) and the workers (datasets on Ray) --
    def on_ray(self, v: Any) -> _OnRay:
        if isinstance(v, _OnRay):
            return v
        carrier, n = encode(v), self.batch_rows
        blocks = [carrier.iloc[i : i + n] for i in range(0, len(carrier), n)] or [carrier]  # spread over workers
        return _OnRay(ray.data.from_pandas(blocks), lambda: B.concat([v.iloc[:0]]))

    def as_df(self, v: Any) -> pd.DataFrame:
        if isinstance(v, pd.DataFrame):
            return v
        parts = [decode(b) for b in v.ds.iter_batches(batch_format="pandas", batch_size=None)]
        parts = [p for p in parts if len(p)]
        return gather(parts) if parts else v.empty()

    def _served(self) -> dict[int, tuple[list[pd.DataFrame], str]]:
        """Memo and checkpoint hits, from the tail back, as the local engine finds them."""
        g, p = self.ctx.graph, self.plan
        needed = set(self.keep) | {nid for nid, n in g.nodes_by_id.items() if n.op.side_effect}
        needed |= {nid for nid in p.order if not p.out_edges.get(nid)}
        served: dict[int, tuple[list[pd.DataFrame], str]] = {}
        for nid in reversed(p.order):
            if nid not in needed:
                continue
            op, fp = g.node(nid).op, p.fingerprints[nid]
            if self.ctx.use_memo and not op.side_effect:
                hit = default_memo.get(fp)
                if hit is not None:
                    served[nid] = (hit, "memo")
                    continue
                loader = getattr(op, "load_checkpoint", None)
                loaded = loader(fp, self.options.get("project")) if loader is not None else None
                if loaded is not None:
                    default_memo.put(fp, [loaded])
                    served[nid] = ([loaded], "checkpoint")
                    continue
            for e in p.in_edges.get(nid, ()):
                needed.add(e.src)
        self.needed = needed
        return served

    def drive(self) -> None:
        g, p = self.ctx.graph, self.plan
        served = self._served()
        for nid in p.order:
            if nid not in self.needed:
                continue
            node = g.node(nid)
            op = node.op
            rep = NodeReport(nid, op.display_name(), op.kind, node.tag, p.fingerprints[nid], op_label=node.label())
            self.reports[nid] = rep
            if nid in served:
                outs, rep.cached = served[nid]
                self.values[nid] = list(outs)
                rep.rows_out = len(outs[0]) if outs else 0
            else:
                bus.emit(NodeStarted(self.run_id, nid, rep.label))
                t = time.perf_counter()
                self.values[nid] = self._run_node(nid, op, rep)
                rep.seconds = time.perf_counter() - t
            bus.emit(rep.finished(self.run_id))
        for nid in self.keep:
            if nid in self.values:
                whole = self.as_df(self.values[nid][0])
                self.results[nid] = [whole]
                rep = self.reports[nid]
                op = g.node(nid).op
                if self.ctx.use_memo and op.memoize and not op.side_effect and not rep.incomplete and not rep.cached:
                    default_memo.put(rep.fingerprint, [whole])

    def _inputs(self, nid: int, op: Op) -> list[Any]:
        ports: list[list[Any]] = [[] for _ in range(op.n_in)]
        for e in self.plan.in_edges.get(nid, ()):
            ports[e.dst_port].append(self.values[e.src][e.src_port])
        out: list[Any] = []
        for i, vals in enumerate(ports):
            if i == 0 and nid == self.ctx.graph.head_id and self.inputs is not None:
                vals = [self.inputs, *vals]
            if len(vals) == 1:
                out.append(vals[0])
            else:  # several edges into one port: union, the highest rev wins (on the driver)
                out.append(B.concat([self.as_df(v) for v in vals]))
        return out

    def _context(self, nid: int, rep: NodeReport) -> RunContext:
        rctx = RunContext(
            run_id=self.run_id,
            node_id=nid,
            label=rep.op_label,
            fingerprint=rep.fingerprint,
            dispatch_brokers=self.ctx.dispatch_brokers,
            project=self.options.get("project"),
            budget=self.options.get("budget"),
            options=self.options,
            calls=self.calls,
        )
        rctx.run_subgraph = self._body_runner(rctx)
        return rctx

    def _run_node(self, nid: int, op: Op, rep: NodeReport) -> list[Any]:
        ins = self._inputs(nid, op)
        if op.n_in == 1 and op.n_out == 1 and why_on_driver(op, self) is None:
            return [self._calls_on_workers(nid, op, rep, self.on_ray(ins[0]))]
        if op.n_in == 1 and op.n_out == 1:
            src = self.on_ray(ins[0])
            ds = translate(op, src.ds, self)
            if ds is not None:  # lazy: rows are counted where they are gathered

                def empty(op: Op = op, src: _OnRay = src) -> pd.DataFrame:
                    # what this op gives for no input, as the local engine computes it
                    return _run_op(op, [B.concat([src.empty()])], self._context(nid, rep))[0]

                return [_OnRay(ds, empty)]
        if isinstance(op, WriteJsonl) and isinstance(ins[0], _OnRay):
            return [self._write_jsonl(op, ins[0], rep)]
        batches = [self.as_df(v) for v in ins]
        if op.n_in == 1 and len(batches[0]) == 0:
            batches[0] = B.concat([batches[0]])
        rep.rows_in = sum(len(b) for b in batches)
        rctx = self._context(nid, rep)
        outs = _run_op(op, batches, rctx)
        _fill_stats(rep, rctx.stats)
        rep.incomplete = rctx.incomplete
        rep.rows_out = len(outs[0]) if outs else 0
        fp = rep.fingerprint
        if self.ctx.use_memo and not rctx.incomplete and op.memoize and not op.side_effect and op.kind in _ALWAYS_MEMO:
            default_memo.put(fp, outs)
        if getattr(op, "persist_result", False) and not rctx.incomplete and self.ctx.use_memo:
            op.save_checkpoint(fp, rctx.project, outs[0])  # type: ignore[attr-defined]
        return list(outs)

    def _calls_on_workers(self, nid: int, op: Op, rep: NodeReport, src: _OnRay) -> _OnRay:
        """A broker op on the workers (:mod:`.ray_calls`); its complete result is memoised and
        checkpointed here, as a local run does (gathered: the checkpoint is one file)."""

        def empty(op: Op = op, src: _OnRay = src) -> pd.DataFrame:
            return _run_op(op, [B.concat([src.empty()])], self._context(nid, rep))[0]

        out = _OnRay(run_on_workers(self, nid, op, rep, src), empty)  # type: ignore[arg-type]
        if self.ctx.use_memo and not rep.incomplete and op.memoize and not op.side_effect:
            whole = self.as_df(out)
            default_memo.put(rep.fingerprint, [whole])
            if getattr(op, "persist_result", False):
                op.save_checkpoint(rep.fingerprint, self.options.get("project"), whole)  # type: ignore[attr-defined]
        return out

    def _write_jsonl(self, op: WriteJsonl, src: _OnRay, rep: NodeReport) -> pd.DataFrame:
        """Stream the Dataset's batches into a temporary file on the driver; publish it at the end."""
        parts: list[pd.DataFrame] = []
        try:
            with atomic_open(op.path, "wb") as f:
                for carrier in src.ds.iter_batches(batch_format="pandas", batch_size=self.batch_rows):
                    chunk = decode(carrier)
                    if not len(chunk):
                        continue
                    fields = op.output_keys if op.output_keys is not None else B.data_fields(chunk)
                    _require(chunk, fields, op)
                    try:
                        f.write(batch_to_jsonl_bytes(chunk, fields))
                    except TypeError as e:
                        raise OpError(str(e), op=op) from e
                    rep.rows_in += len(chunk)
                    parts.append(chunk)
                empty = None if parts else B.concat([src.empty()])  # an empty input: an empty file, as locally
        except OSError as e:
            raise OpError(f"cannot write {str(op.path)!r}: {type(e).__name__}: {e}", op=op) from e
        rep.rows_out = rep.rows_in
        return gather(parts) if parts else empty

    def _body_runner(self, parent: RunContext) -> Any:
        """Loop bodies run on Ray too: each round's batch goes through the body's translation."""

        def run_body(body: Graph, batch: pd.DataFrame, fingerprint: str) -> pd.DataFrame:
            from ...graph.plan import plan as make_plan

            if not len(body):
                return batch
            ctx = EngineContext(
                body, dispatch_brokers=self.ctx.dispatch_brokers, use_memo=False, options=self.ctx.options
            )
            sub = _RayRun(self.engine, make_plan(body, input_fingerprint=fingerprint), ctx, inputs=batch)
            sub.options, sub.calls, sub.run_id = self.options, self.calls, self.run_id
            sub.drive()
            for r in sub.reports.values():
                for k in ("calls_sent", "calls_cached", "calls_failed", "input_tokens", "output_tokens"):
                    parent.add_stat(k, getattr(r, k))
                if r.cost_usd is None or parent.stats.get("cost_usd", 0) is None:
                    parent.stats["cost_usd"] = None
                else:
                    parent.add_stat("cost_usd", r.cost_usd)
                parent.incomplete = parent.incomplete or r.incomplete
            return sub.results[body.tail_id][0] if body.tail_id in sub.results else B.empty()

        return run_body
