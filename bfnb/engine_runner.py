"""The one entry a graph runs through, as bfnb registers it: engines, background runs, explain, versions.

:mod:`bfnb.graph` sits below the executor and the engines and never imports them; ``import bfnb``
calls :func:`install`, which registers :class:`EngineRunner` with :mod:`bfnb.graph.runner` and
adds version recording (:func:`bfnb.versioning.record_run`) as a run listener; it also gives
:meth:`bfnb.versioning.VersionList.compare` its ``bf.compare`` (the comparison reads versions).  Every method
imports what it uses on first call, so ``import bfnb`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .graph.runner import add_run_listener, register_runner

if TYPE_CHECKING:
    import pandas as pd

    from .executor.run import RunReport
    from .graph.graph import Graph

__all__ = ["EngineRunner", "install"]


class EngineRunner:
    """Runs graphs with :func:`bfnb.engines.run` (``engine=`` picks the backend)."""

    def run(self, graph: Graph, **options: Any) -> RunReport:
        from .engines import run

        return run(graph, **options)

    def run_in_background(self, graph: Graph, **options: Any) -> Any:
        from .executor.handle import run_in_background

        return run_in_background(graph, **options)

    def run_preview(self, graph: Graph, n: int, **options: Any) -> Any:
        from .executor.handle import run_preview

        return run_preview(graph, n, **options)

    def explain(self, graph: Graph, tag: str | None) -> pd.DataFrame:
        from .explain import explain_frame

        return explain_frame(graph, tag)

    def cost(self, graph: Graph) -> pd.DataFrame:
        from .explain import cost_frame

        return cost_frame(graph)


def _record_versions(graph: Graph, report: RunReport) -> None:
    from .versioning import record_run

    record_run(graph, report)


def _compare(*items: Any, **kwargs: Any) -> Any:
    from .compare import compare

    return compare(*items, **kwargs)


def install() -> None:
    """Register the runner, the version recorder and ``VersionList.compare`` (``import bfnb`` does; idempotent)."""
    from .versioning import register_compare

    register_runner(EngineRunner())
    add_run_listener(_record_versions)
    register_compare(_compare)
