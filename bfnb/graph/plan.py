"""A plan: the order in which a graph's nodes run, and each node's fingerprint.

A node's fingerprint is its op's fingerprint (class, arguments, function code, captured values,
a source's file contents) combined with the fingerprints of what feeds each of its in-ports.  It
does not depend on node ids or construction order, so the same pipeline built again in a new
kernel has the same fingerprints, and a CheckPoint written by one process is found by the next.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import GraphError
from ..fingerprint import combine
from ..op.op import Op

if TYPE_CHECKING:
    from .graph import Edge, Graph

__all__ = ["Plan", "describe", "ops_within", "plan"]


@dataclass
class Plan:
    order: list[int]
    fingerprints: dict[int, str]
    in_edges: dict[int, list[Edge]]
    out_edges: dict[int, list[Edge]]
    graph_fingerprint: str


def topological_order(g: Graph) -> list[int]:
    nodes = list(g.nodes_by_id)
    indeg = {n: 0 for n in nodes}
    succ: dict[int, list[int]] = defaultdict(list)
    for e in g.edges:
        indeg[e.dst] += 1
        succ[e.src].append(e.dst)
    position = {n: i for i, n in enumerate(nodes)}
    ready = sorted((n for n in nodes if indeg[n] == 0), key=position.__getitem__)
    order: list[int] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
                ready.sort(key=position.__getitem__)
    if len(order) != len(nodes):
        stuck = [g.node(n).label() for n in nodes if n not in set(order)]
        raise GraphError(f"the graph has a cycle through {', '.join(stuck)}; express loops with While or Repeat")
    return order


def plan(g: Graph, *, input_fingerprint: str = "") -> Plan:
    """Order and fingerprints; ``input_fingerprint`` stands for what is fed into the head (loop bodies)."""
    order = topological_order(g)
    in_edges: dict[int, list[Edge]] = defaultdict(list)
    out_edges: dict[int, list[Edge]] = defaultdict(list)
    for e in g.edges:
        in_edges[e.dst].append(e)
        out_edges[e.src].append(e)
    fps: dict[int, str] = {}
    for nid in order:
        op = g.node(nid).op
        parts = [op.fingerprint()]
        feeds = sorted(f"{e.dst_port}<{fps[e.src]}:{e.src_port}" for e in in_edges[nid])
        if nid == g.head_id and input_fingerprint:
            feeds.append(f"0<input:{input_fingerprint}")
        fps[nid] = combine(*parts, *feeds)
    sinks = [fps[n] for n in order if not out_edges[n]]
    gfp = combine("graph", *sorted(sinks), *(fps[n] for n in order))
    return Plan(order, fps, dict(in_edges), dict(out_edges), gfp)


def describe(g: Graph) -> str:
    """The graph as text, its nodes lettered in plan order (``Graph.__repr__``)::

    Graph(2 ops)
      (A) FromList(...) -> B
      (B) MapField(...)
    """
    if not len(g):
        return "Graph()"
    p = plan(g)
    names = {nid: _label_code(i) for i, nid in enumerate(p.order)}
    lines = [f"Graph({len(g)} ops)"]
    for nid in p.order:
        node = g.node(nid)
        outs = []
        for e in p.out_edges.get(nid, ()):
            port = f"[{e.dst_port}]" if e.dst_port else ""
            src_port = f"{e.src_port}:" if node.op.n_out > 1 else ""
            outs.append(f"{src_port}{names[e.dst]}{port}")
        arrow = f" -> {', '.join(outs)}" if outs else ""
        lines.append(f"  ({names[nid]}) {node.op!r}{arrow}")
    return "\n".join(lines)


def _label_code(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def ops_within(g: Graph) -> Iterator[Op]:
    """Every op of ``g`` and of the graphs its ops hold as bodies (If, While, ListParallel)."""
    stack, seen = list(g), set()
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        yield op
        for v in vars(op).values() if hasattr(op, "__dict__") else ():
            if hasattr(v, "nodes_by_id"):  # a Graph (not imported: graph.py imports this module)
                stack.extend(v)
            elif isinstance(v, Op):
                stack.append(v)
