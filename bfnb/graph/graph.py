"""Graph: an immutable value describing which op feeds which.

``a | b`` returns a new graph and never changes ``a``; ``g |= op`` rebinds ``g`` to a new graph (in
a notebook, re-running the cell replaces what that cell added, see :mod:`bfnb.graph.cells`).
``wire`` is the one builder method that changes a graph in place, for graphs that are not chains.
A graph does no I/O until it is run or displayed; its notebook display is registered with IPython
by :mod:`bfnb._ipython` (the graph layer never imports the notebook layer).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import GraphError
from ..op.op import Op, register_graph_builder
from .runner import get_runner, run_finished

if TYPE_CHECKING:
    from ..executor.run import RunReport

__all__ = ["Edge", "Graph", "Node"]

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Node:
    """One place of an op in a graph."""

    id: int
    op: Op
    cell: str | None = None  # the notebook cell that added it, when known

    @property
    def tag(self) -> str | None:
        return self.op.tag_name

    def label(self) -> str:
        return self.op.label()


@dataclass(frozen=True, slots=True)
class Edge:
    src: int
    dst: int
    src_port: int = 0
    dst_port: int = 0


class Graph:
    """A graph of ops.  ``bf.Graph()`` is the empty graph; ``op | op`` makes one too."""

    __slots__ = ("__weakref__", "_cell_bases", "_edges", "_head", "_nodes", "_tail", "last_run")

    def __init__(self) -> None:
        self._nodes: dict[int, Node] = {}
        self._edges: list[Edge] = []
        self._head: int | None = None
        self._tail: int | None = None
        self._cell_bases: dict[str, tuple[int, Graph]] = {}
        self.last_run: RunReport | None = None

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def of(cls, op: Op, *, cell: str | None = None) -> Graph:
        if isinstance(op, Graph):
            return op
        if not isinstance(op, Op):
            raise GraphError(f"only ops and graphs can be composed, got {type(op).__name__}")
        g = cls()
        n = Node(next(_ids), op, cell)
        g._nodes[n.id] = n
        g._head = g._tail = n.id
        return g

    @staticmethod
    def new_node(op: Op, cell: str | None = None) -> Node:
        """A node for ``op`` with an id no other node has (to build a graph with :meth:`assemble`)."""
        return Node(next(_ids), op, cell)

    @classmethod
    def assemble(cls, nodes: Iterable[Node], edges: Iterable[Edge], *, head: int | None, tail: int | None) -> Graph:
        """A graph made of these nodes and edges (for code that rewrites a graph, e.g. a preview)."""
        g = cls()
        g._nodes = {n.id: n for n in nodes}
        g._edges = list(edges)
        g._head, g._tail = head, tail
        return g

    def _copy(self) -> Graph:
        g = Graph()
        g._nodes = dict(self._nodes)
        g._edges = list(self._edges)
        g._head, g._tail = self._head, self._tail
        g._cell_bases = dict(self._cell_bases)
        return g

    def with_fresh_ids(self) -> Graph:
        """The same graph with new node ids, so it can stand beside its original."""
        remap = {nid: next(_ids) for nid in self._nodes}
        g = Graph()
        g._nodes = {remap[nid]: Node(remap[nid], n.op, n.cell) for nid, n in self._nodes.items()}
        g._edges = [Edge(remap[e.src], remap[e.dst], e.src_port, e.dst_port) for e in self._edges]
        g._head = remap.get(self._head) if self._head is not None else None
        g._tail = remap.get(self._tail) if self._tail is not None else None
        return g

    def _chain(self, other: Any, *, cell: str | None = None) -> Graph:
        right = Graph.of(other, cell=cell) if not isinstance(other, Graph) else other
        if not right._nodes:
            return self._copy()
        if not self._nodes:
            g = right._copy()
            g._cell_bases = dict(self._cell_bases)
            return g
        if not self._nodes.keys().isdisjoint(right._nodes):
            right = right.with_fresh_ids()
        head_op = right._nodes[right._head].op  # type: ignore[index]
        tail_op = self._nodes[self._tail].op  # type: ignore[index]
        if head_op.n_in == 0:
            raise GraphError(f"cannot chain into {head_op.label()}: it is a source and takes no input")
        if tail_op.n_out == 0:
            raise GraphError(f"cannot chain after {tail_op.label()}: it has no output")
        g = self._copy()
        g._nodes.update(right._nodes)
        g._edges.extend(right._edges)
        g._edges.append(Edge(self._tail, right._head))  # type: ignore[arg-type]
        g._tail = right._tail
        return g

    def cell_base(self, cell_id: str) -> tuple[int, Graph] | None:
        """(execution count, graph) as it was before cell ``cell_id`` first extended it (see cells)."""
        return self._cell_bases.get(cell_id)

    def extended(self, other: Any, *, cell: str, count: int | None = None, base: Graph | None = None) -> Graph:
        """``self | other`` added by notebook cell ``cell``; with ``base``, remember that the cell
        (in execution ``count``) extended ``base``, so a re-run of the cell starts from it."""
        out = self._chain(other, cell=cell)
        if base is not None and count is not None:
            out._cell_bases = dict(base._cell_bases)
            out._cell_bases[cell] = (count, base)
        return out

    def __or__(self, other: Any) -> Graph:
        return self._chain(other)

    def __ror__(self, other: Any) -> Graph:
        return Graph.of(other)._chain(self)

    def __ior__(self, other: Any) -> Graph:
        from .cells import extend_in_cell

        return extend_in_cell(self, other)

    def wire(
        self,
        source: Op | Graph | str,
        target: Op | Graph | str,
        source_port: int = 0,
        target_port: int = 0,
    ) -> Graph:
        """Connect ``source``'s out-port to ``target``'s in-port, in place; returns the graph.

        ``source`` and ``target`` may be an op, a graph or a tag.  An op or graph that is not in
        this graph yet is added to it (never dropped).  A graph contributes its tail as a source
        and its head as a target.
        """
        src = self._resolve(source, as_source=True)
        dst = self._resolve(target, as_source=False)
        src_op, dst_op = self._nodes[src].op, self._nodes[dst].op
        if not 0 <= source_port < src_op.n_out:
            raise GraphError(f"{src_op.label()} has {src_op.n_out} out-port(s); port {source_port} does not exist")
        if not 0 <= target_port < dst_op.n_in:
            raise GraphError(f"{dst_op.label()} has {dst_op.n_in} in-port(s); port {target_port} does not exist")
        edge = Edge(src, dst, source_port, target_port)
        if edge not in self._edges:
            self._edges.append(edge)
        if self._head is None:
            self._head = src
        if self._tail is None:
            self._tail = dst
        return self

    def _resolve(self, ref: Op | Graph | str, *, as_source: bool) -> int:
        if isinstance(ref, str):
            return self.node_by_tag(ref).id
        if isinstance(ref, Graph):
            if not ref._nodes:
                raise GraphError("cannot wire an empty graph")
            if not ref._nodes.keys() <= self._nodes.keys():
                if not ref._nodes.keys().isdisjoint(self._nodes):
                    raise GraphError("the graph to wire overlaps this graph only in part")
                self._nodes.update(ref._nodes)
                self._edges.extend(ref._edges)
            return ref._tail if as_source else ref._head  # type: ignore[return-value]
        if isinstance(ref, Op):
            found = [n.id for n in self._nodes.values() if n.op is ref]
            if len(found) > 1:
                raise GraphError(f"{ref.label()} stands at {len(found)} places in this graph; wire by tag instead")
            if found:
                return found[0]
            n = Node(next(_ids), ref)
            self._nodes[n.id] = n
            return n.id
        raise GraphError(f"cannot wire a {type(ref).__name__}; give an op, a graph or a tag")

    # --- inspection -----------------------------------------------------------------------------

    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    @property
    def nodes_by_id(self) -> Mapping[int, Node]:
        """Every node by id, in the order they were added (a read-only view)."""
        return MappingProxyType(self._nodes)

    def node(self, node_id: int) -> Node:
        return self._nodes[node_id]

    @property
    def head_id(self) -> int | None:
        """The id of the node a chain starts with (where a loop body's input goes)."""
        return self._head

    @property
    def tail_id(self) -> int | None:
        """The id of the node whose result ``run()`` returns."""
        return self._tail

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    @property
    def head(self) -> Node | None:
        return self._nodes.get(self._head) if self._head is not None else None

    @property
    def tail(self) -> Node | None:
        return self._nodes.get(self._tail) if self._tail is not None else None

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Op]:
        return (n.op for n in self._nodes.values())

    def __bool__(self) -> bool:
        return True  # an empty graph is still a graph (``g = bf.Graph(); g |= op`` must work)

    def node_by_tag(self, tag: str) -> Node:
        found = [n for n in self._nodes.values() if n.tag == tag]
        if not found:
            known = sorted({n.tag for n in self._nodes.values() if n.tag})
            raise GraphError(f"no op tagged {tag!r} in this graph; tags: {known or 'none'}")
        if len(found) > 1:
            raise GraphError(f"the tag {tag!r} is used by {len(found)} ops; a tag must be unique to be looked up")
        return found[0]

    def get_node_by_tag(self, tag: str) -> Op:
        """The op tagged ``tag`` (seed API)."""
        return self.node_by_tag(tag).op

    def in_edges(self, node_id: int) -> list[Edge]:
        return [e for e in self._edges if e.dst == node_id]

    def is_chain(self) -> bool:
        """True when the ops form one line: each feeds the next through port 0, nothing branches."""
        srcs = [e.src for e in self._edges]
        dsts = [e.dst for e in self._edges]
        return (
            len(self._edges) == len(self._nodes) - 1
            and len(set(srcs)) == len(srcs)
            and len(set(dsts)) == len(dsts)
            and all(e.src_port == 0 and e.dst_port == 0 for e in self._edges)
        )

    def fingerprint(self) -> str:
        """Structure + every op's fingerprint (independent of node ids)."""
        from .plan import plan

        return plan(self).graph_fingerprint

    def __bfnb_fingerprint__(self) -> str:
        return self.fingerprint()

    # --- running --------------------------------------------------------------------------------

    def execute(
        self,
        dispatch_brokers: bool = False,
        mock: bool = False,
        max_iterations: int | None = None,
        max_barrier_level: int | None = None,
        verbose: int = 0,
        compact_after_finished: bool = True,
        **options: Any,
    ) -> Any:
        """Run the graph with the seed's meaning.  Returns the output of ToList/OutputEntries ops.

        As in batchfactory, paid calls are sent only with ``dispatch_brokers=True``; without it
        the rows that need a call come back marked ``status="pending"`` and a line such as
        ``5 calls pending (≤ $0.0123)`` is printed (the worst case of what dispatching would
        cost).  ``run()`` is bfnb's own entry point and dispatches by default.
        One collector op: its output; several: a tuple in graph order; none: None.

        The seed's other keywords: ``mock=True`` answers broker calls offline; ``max_iterations``
        caps every loop of this run (bfnb counts a loop's rounds, not graph passes, and raises
        ``LoopLimitError`` instead of stopping silently); ``verbose=1`` prints each op's rows,
        cache use, calls and time; ``compact_after_finished`` has nothing to do (bfnb's ledger is
        append-only and needs no compaction).  ``max_barrier_level`` is refused: bfnb's barriers
        are real, so there are no levels to limit.  Other keywords are ``run()``'s.
        """
        if max_barrier_level is not None:
            raise TypeError(
                "execute(max_barrier_level=...) has no meaning in bfnb: every batch op and writer sees "
                "its whole input (barriers are real), so there are no levels to limit; remove it"
            )
        if max_iterations is not None:
            if isinstance(max_iterations, bool) or not isinstance(max_iterations, int) or max_iterations < 1:
                raise ValueError(f"max_iterations must be a positive int, got {max_iterations!r}")
            options["max_iterations"] = max_iterations
        if mock:
            options["mock"] = True
        # only collectors' outputs are returned, so a chunked engine need not keep the tail whole
        report = _recorded(
            self, get_runner().run(self, dispatch_brokers=dispatch_brokers, keep_tail=False, **options)
        )  # also in self.last_run
        if verbose:
            for n in report.nodes:
                cache = f" ({n.cached})" if n.cached else ""
                calls = f", {n.calls_sent} sent, {n.calls_cached} cached" if n.calls_sent or n.calls_cached else ""
                print(f"{n.op_label or n.label}: {n.rows_in} -> {n.rows_out} rows{cache}{calls}, {n.seconds:.3f} s")
        summary = report.pending_summary()
        if summary is not None:
            print(summary)
        outputs = [n.op.get_output() for n in self._nodes.values() if getattr(n.op, "produces_output", False)]
        if not outputs:
            return None
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def run(
        self, *, dispatch_brokers: bool = True, background: bool = False, preview: int | None = None, **options: Any
    ) -> Any:
        """Run the graph and return the tail's batch (or, with ``background=True``, a RunHandle).

        ``engine="local" | "stream" | "ray"`` (default ``bf.options.engine``, ``"auto"``) chooses the
        backend; see :mod:`bfnb.engines`.

        ``preview=N`` runs the graph on the first N entries of its sources, writes no file, and
        returns a :class:`~bfnb.executor.handle.RunHandle` paused there ("preview N of M"):
        ``handle.resume()`` (or the panel's button) runs the rest, without sending the preview's
        calls again.
        """
        runner = get_runner()
        if preview is not None:
            return runner.run_preview(
                self, preview, background=background, dispatch_brokers=dispatch_brokers, **options
            )
        if background:
            return runner.run_in_background(self, dispatch_brokers=dispatch_brokers, **options)
        report = _recorded(self, runner.run(self, dispatch_brokers=dispatch_brokers, **options))
        return report.tail_result()

    def to_pandas(self, *, meta: bool = True, **options: Any) -> pd.DataFrame:
        """The tail's batch as a DataFrame, indexed by ``idx``; runs what is needed.

        ``meta=False`` keeps the data fields only: no ``rev`` and none of the bookkeeping fields
        the graph's ops write (``status``, ``error``, ``finish_reason``, a ``cost_key``), ready to
        merge or export.  Failed rows stay, with their answer fields empty.
        """
        df = self.run(**options)
        if meta:
            return df
        drop = {"rev", *self.meta_fields()}
        return df.drop(columns=[c for c in df.columns if c in drop])

    def meta_fields(self) -> list[str]:
        """The bookkeeping fields written by this graph's ops (loop and branch bodies included)."""
        seen: dict[str, None] = {}
        from .plan import ops_within

        for op in ops_within(self):
            for name in op.meta_fields():
                seen.setdefault(name, None)
        return list(seen)

    def __getitem__(self, tag: str) -> pd.DataFrame:
        """The result (out-port 0) of the op tagged ``tag``; runs what is needed."""
        node = self.node_by_tag(tag)
        report = _recorded(self, get_runner().run(self, targets=[node.id]))
        return report.result(node.id)

    def result(self, ref: str | Op, port: int = 0, **options: Any) -> pd.DataFrame:
        nid = self._resolve(ref, as_source=True) if not isinstance(ref, str) else self.node_by_tag(ref).id
        report = _recorded(self, get_runner().run(self, targets=[nid], **options))
        return report.result(nid, port)

    def explain(self, tag: str | None = None) -> pd.DataFrame:
        """Per entry of each broker op in the last run: served from the ledger or sent, and why."""
        return get_runner().explain(self, tag)

    def cost(self) -> pd.DataFrame:
        """Calls, tokens and dollars per op of the last run, with a total row."""
        return get_runner().cost(self)

    # --- display --------------------------------------------------------------------------------

    def __repr__(self) -> str:
        from .plan import describe

        return describe(self)


register_graph_builder(Graph.of)  # op.to_graph() and `op | op` (bfnb.op.op never imports the graph)


def _recorded(g: Graph, report: RunReport) -> RunReport:
    """Tell the run listeners (bfnb.versioning keeps a version of each tagged result that is new)."""
    return run_finished(g, report)
