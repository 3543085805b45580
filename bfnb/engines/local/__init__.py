"""The ``local`` engine: the whole-batch executor (:mod:`bfnb.executor.run`), every op, in process.

Each node runs once on its whole input, so every op is supported, barriers are trivially real and
writers write their whole input at once.  It is the reference the conformance suite
(``tests/engines/``) compares every other engine with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine import Engine as _Base
from ..engine import EngineContext

if TYPE_CHECKING:
    from ...executor.run import RunReport
    from ...graph.plan import Plan

__all__ = ["Engine"]


class Engine(_Base):
    """Runs a graph with the whole-batch executor."""

    name = "local"

    def execute(self, plan: Plan, ctx: EngineContext) -> RunReport:
        from ...executor.run import run_graph

        return run_graph(
            ctx.graph,
            dispatch_brokers=ctx.dispatch_brokers,
            targets=ctx.targets or None,
            use_memo=ctx.use_memo,
            plan_=plan,
            **ctx.options,
        )
