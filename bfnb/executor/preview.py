"""Previews: the graph run on the first N entries of each source, writing nothing.

``g.run(preview=N)`` is how a user tries a prompt on a few rows before paying for all of them.  The
preview is a *derived graph*, not a mode of the executor: a ``TakeFirstN(N)`` after every source
(first N entries in input order) and every writer replaced by a pass-through that writes nothing.
Because it is an ordinary graph, everything else holds without special cases: its nodes have
their own fingerprints (a preview result is never taken for the full one), and its broker calls are
keyed by content like any other, so when the full graph runs afterwards the N entries answered in
the preview come from the ledger and are not sent again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ..op.op import Op, RunContext
from ..op.rows import TakeFirstN

if TYPE_CHECKING:
    from ..graph.graph import Graph

__all__ = ["NotWritten", "PreviewCut", "preview_graph", "total_entries"]


class PreviewCut(TakeFirstN):
    """The first N entries of a source, for a preview; never memoised, so it always counts them all."""

    memoize = False

    def display_name(self) -> str:
        return f"{super().display_name()} (preview)"


class NotWritten(Op):
    """Stands for a writer in a preview: passes its input on and writes nothing."""

    kind = "map"
    memoize = False
    preserves_idx = True

    def __init__(self, label: str) -> None:
        self.writer = label

    def display_name(self) -> str:
        return f"{self.writer} (preview: not written)"

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        return [inputs[0]]


def preview_graph(g: Graph, n: int) -> tuple[Graph, list[int]]:
    """``g`` cut to the first ``n`` entries of each source, writers replaced; and the cut nodes' ids.

    The ids let a caller read, from the run's report, how many entries the sources gave in all
    (the cut nodes' ``rows_in``): the M of "preview N of M".
    """
    from ..graph.graph import Edge, Graph, Node

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"preview must be a positive number of entries, got {n!r}")
    nodes: list[Node] = []
    cut: dict[int, int] = {}
    for nid, node in g.nodes_by_id.items():
        op: Any = node.op
        if op.side_effect and op.kind == "sink" and op.n_out == 1:
            op = NotWritten(op.label())
        nodes.append(Node(nid, op, node.cell))
        if node.op.n_in == 0:
            take = Graph.new_node(PreviewCut(n), node.cell)
            nodes.append(take)
            cut[nid] = take.id
    edges = [
        Edge(cut.get(e.src, e.src), e.dst, e.src_port, e.dst_port) for e in g.edges
    ]  # what read a source now reads its cut
    edges.extend(Edge(src, take) for src, take in cut.items())
    tail = cut.get(g.tail_id, g.tail_id) if g.tail_id is not None else None
    out = Graph.assemble(nodes, edges, head=g.head_id, tail=tail)
    return out, list(cut.values())


def total_entries(report: Any, cut: list[int]) -> int:
    """How many entries the sources gave (the cut nodes' input rows), from a preview's report."""
    by_id = {n.node_id: n for n in report.nodes}
    return int(sum(by_id[c].rows_in for c in cut if c in by_id))
