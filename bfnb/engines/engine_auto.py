"""What ``engine="auto"`` can decide about a graph without importing the stream engine.

Most graphs (every graph whose source is an in-memory list, a table or a whole file) run on
``local``; the reasons that rule out streaming (an empty graph, an inner target, a shape that is
not a chain from a source, a source read whole) need only the graph, so a cached re-run in a new
process does not pay for importing the stream engine just to be told to run locally.  Only a
chain from a chunked source goes on to the stream engine's per-op check.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..graph.graph import Graph
    from ..op.op import Op
    from .engine import EngineContext

__all__ = ["chain_problem", "chunked_source", "reason_before_steps"]


def chain_problem(graph: Graph) -> str | None:
    """Why the stream engine cannot run ``graph`` at all (None when it is a chain from a source)."""
    if not graph.nodes:
        return None
    if not graph.is_chain():
        return "it is not a chain (it has branches, If, wired ports or ListParallel); use engine='local'"
    if graph.head is not None and graph.head.op.n_in:
        return f"its first op {graph.head.op.label()} is not a source"
    return None


def chunked_source(op: Op) -> bool:
    """Whether a source reads in chunks (else it is read whole and then cut into chunks)."""
    sources = sys.modules.get("bfnb.op.sources")
    if sources is None:  # never imported, so ``op`` cannot be a ReadJsonl: no need to import it
        return False
    if isinstance(op, sources.ReadJsonl):  # a .json document is one value: read whole
        plain = not op.shuffle and not op.offset and op.max_count is None
        return plain and not str(op.glob_str).lower().endswith(".json")
    return False


def reason_before_steps(ctx: EngineContext, shape_problem: Any = None) -> str | None:
    """Why ``auto`` runs ``ctx.graph`` on ``local``, from the graph alone; None when the ops decide.

    ``shape_problem`` is the stream engine's own check when it is already loaded (a subclass may
    refine it); by default the chain check above, which is what the built-in engine does.
    """
    g = ctx.graph
    if not g.nodes or g.head is None:
        return "the graph is empty"
    if ctx.targets:
        return "an inner node's result was asked for"
    if chain_problem(g) if shape_problem is None else shape_problem(g, ctx):
        return "the graph is not a chain from a source"
    if not chunked_source(g.head.op):
        return f"{g.head.op.label()} reads whole"
    return None
