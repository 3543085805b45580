"""The engine interface: a graph is an expression, an engine is the backend that runs it.

Every engine (``local``, ``stream``, ``ray``, or one a package registers under the entry-point
group ``bfnb.engines``) is a class named ``Engine`` with two duties, as an ibis backend has:

* :meth:`Engine.supports` answers, per op, *before* anything runs, whether this engine can run it;
  :meth:`Engine.check` turns the ops it cannot run (nested loop and ListParallel bodies included)
  into one :class:`~bfnb.errors.EngineError` naming them, so nothing is half done;
* :meth:`Engine.execute` runs a planned graph and returns the same
  :class:`~bfnb.executor.run.RunReport` the local executor returns.

One meaning of memo, barrier and writer, whatever the engine:

* **memo** — a node's result is looked up by its fingerprint (the plan's) in the one in-kernel memo
  (:mod:`bfnb.executor.memo`) and in its op's checkpoint before it is computed; an engine that keeps
  a node's whole result puts it there under the same fingerprint.  A chunked engine never keeps
  intermediate results whole (that is its point), so it memoises what it gathers: barriers' inputs
  are not memoised, the tail is when the caller keeps it.
* **barrier** — a batch-wide op (sort, shuffle, take, sample, collect, loop) sees its whole input;
  an engine gathers (or spills) before running it, or maps it to an equivalent native operation.
* **writer** — a sink writes once per run and publishes atomically (temp file + rename); a
  chunked engine appends chunks to the temp file and renames at the end, only if every chunk
  succeeded.

Chunked engines feed live partial results through :class:`ChunkListener`: ``on_chunk(node_id,
batch)`` is called with each chunk a node produces (rows of the tail first), which is how a
preview or ``handle.partial()`` can show rows before the run ends without knowing the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..errors import EngineError

if TYPE_CHECKING:
    import pandas as pd

    from ..executor.run import RunReport
    from ..graph.graph import Graph
    from ..graph.plan import Plan
    from ..op.op import Op

__all__ = ["ChunkListener", "Engine", "EngineContext", "start_run", "walk_ops"]


class ChunkListener(Protocol):
    """Called by chunked engines with each chunk a node produces (for live partial results)."""

    def on_chunk(self, node_id: int, batch: pd.DataFrame) -> None: ...


@dataclass
class EngineContext:
    """What a run asks of an engine: the graph and every option ``Graph.run`` was given."""

    graph: Graph
    dispatch_brokers: bool = True
    targets: tuple[int, ...] = ()
    use_memo: bool = True
    #: ``g.run()`` returns the tail's batch, so the engine must keep it; ``g.execute()`` returns only
    #: what collectors gathered, so a chunked engine can stream the whole chain in bounded memory.
    keep_tail: bool = True
    options: dict[str, Any] = field(default_factory=dict)  # project, budget_usd, _background, ...
    listener: ChunkListener | None = None
    #: why this engine was chosen ("asked", "bf.options.engine", "auto: every op streams", ...)
    reason: str = "asked"


def walk_ops(graph: Graph) -> Iterator[Op]:
    """Every op of ``graph``, and of the bodies of its loops and branches, depth first."""
    from ..graph.graph import Graph as _Graph

    for node in graph.nodes:
        yield node.op
        for value in vars(node.op).values():
            if isinstance(value, _Graph):
                yield from walk_ops(value)


class Engine(ABC):
    """Base of every engine; subclasses are named ``Engine`` in ``bfnb/engines/<name>/``."""

    #: the name ``g.run(engine=...)`` takes
    name: ClassVar[str] = ""

    def supports(self, op: Op) -> bool:
        """Whether this engine can run ``op`` (answered before anything runs)."""
        return True

    def shape_problem(self, graph: Graph, ctx: EngineContext) -> str | None:
        """Why this engine cannot run a graph of this shape (None when it can)."""
        return None

    def check(self, ctx: EngineContext) -> None:
        """Raise one EngineError naming every op (or the shape) this engine cannot run."""
        bad = [op for op in walk_ops(ctx.graph) if not self.supports(op)]
        if bad:
            names = ", ".join(dict.fromkeys(op.label() for op in bad))
            raise EngineError(
                f"the {self.name!r} engine cannot run {names}; nothing was started. "
                f"Run this graph with engine='local', or remove the op"
            )
        problem = self.shape_problem(ctx.graph, ctx)
        if problem:
            raise EngineError(f"the {self.name!r} engine cannot run this graph: {problem}; nothing was started")

    @abstractmethod
    def execute(self, plan: Plan, ctx: EngineContext) -> RunReport:
        """Run the planned graph and return its report (results, per-node reports, engine name)."""

    def __repr__(self) -> str:
        return f"<bfnb engine {self.name!r}>"


def start_run(ctx: EngineContext) -> tuple[str, dict[str, Any], Any]:
    """A run's id, its options (``budget_usd`` turned into a budget) and its call client.

    What every engine that runs broker ops itself sets up first, so a budget and the ledger mean
    the same on each.
    """
    import uuid

    from ..calls import CallClient
    from ..executor import hooks

    run_id = uuid.uuid4().hex[:12]
    opts = dict(ctx.options)
    budget_usd = opts.pop("budget_usd", None)
    opts.setdefault("project", None)
    if budget_usd is not None:
        opts["budget"] = hooks.make_budget(budget_usd)
    calls = CallClient(
        project=opts.get("project"), budget=opts.get("budget"), dispatch=ctx.dispatch_brokers, run_id=run_id
    )
    return run_id, opts, calls
