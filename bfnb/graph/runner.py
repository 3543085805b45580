"""How a :class:`~bfnb.graph.graph.Graph` reaches what runs it: one registered entry.

A graph is an expression; running it is a backend's job (the ibis ``expr.execute()`` pattern).
The graph layer sits below the executor and the engines, so it never imports them: the package
registers one :class:`GraphRunner` when ``bfnb`` is imported (:func:`register_runner`, in
``bfnb/__init__.py``), and every ``Graph.run``/``execute``/``to_pandas``/``g["tag"]``/``result``,
``g.explain()`` and ``g.cost()`` goes through :func:`get_runner`.

What should happen after each finished run (keeping versions of tagged results,
:mod:`bfnb.versioning`) is a *run listener* (:func:`add_run_listener`), called with the graph and
its report by :func:`run_finished`; the graph does not know who listens.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from ..executor.run import RunReport
    from .graph import Graph

__all__ = ["GraphRunner", "add_run_listener", "get_runner", "register_runner", "run_finished"]


class GraphRunner(Protocol):
    """What the graph asks of the layer that runs it."""

    def run(self, graph: Graph, **options: Any) -> RunReport:
        """Run ``graph`` (``engine=`` picks the backend) and return its report."""

    def run_in_background(self, graph: Graph, **options: Any) -> Any:
        """Start a run on a thread and return its handle."""

    def run_preview(self, graph: Graph, n: int, **options: Any) -> Any:
        """Run the first ``n`` entries and return a handle paused there."""

    def explain(self, graph: Graph, tag: str | None) -> pd.DataFrame:
        """Per entry of each broker op in the last run: served from the ledger or sent, and why."""

    def cost(self, graph: Graph) -> pd.DataFrame:
        """Calls, tokens and dollars per op of the last run (a dry-run estimate when never run)."""


_runner: GraphRunner | None = None
_listeners: list[Callable[[Any, Any], Any]] = []


def register_runner(runner: GraphRunner) -> None:
    """Make ``runner`` the one entry every graph runs through (the last registration wins)."""
    global _runner
    _runner = runner


def get_runner() -> GraphRunner:
    if _runner is None:  # only if bfnb/__init__ never ran, which importing any bfnb module does
        raise RuntimeError("no graph runner is registered; `import bfnb` registers the engines")
    return _runner


def add_run_listener(listener: Callable[[Any, Any], Any]) -> None:
    """Call ``listener(graph, report)`` after every finished run (once, however often added)."""
    if listener not in _listeners:
        _listeners.append(listener)


def run_finished(graph: Graph, report: RunReport, *, warn: bool = True, stacklevel: int = 3) -> RunReport:
    """Tell every run listener.  With ``warn`` a listener's OSError (a full disk) is a warning, so it
    never loses the run's result; a background run (``warn=False``) keeps it as the run's error."""
    for listener in _listeners:
        try:
            listener(graph, report)
        except OSError as e:
            if not warn:
                raise
            warnings.warn(f"bfnb could not record this run's versions: {e}", stacklevel=stacklevel + 1)
    return report
