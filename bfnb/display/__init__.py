"""Rich displays of batches, graphs, comparisons and spend (HTML for Jupyter, text elsewhere).

Every display object renders with pure functions and gets ``_repr_mimebundle_`` from one mixin;
HTML is built only in :mod:`bfnb.display.html`, which escapes every value.  Nothing here imports
IPython or ipywidgets.  Names are loaded on first use, so ``python -m bfnb.display.table`` (and the
other module demos) run their module once, cleanly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from .compare_view import CompareView, compare_frame
    from .graph_view import GraphView, render_graph_html, render_graph_text
    from .history import VersionsView
    from .scoreboard import ComparisonView
    from .spend import SpendSummary
    from .table import BatchTable, render_table_html, render_table_text
    from .text import TextProgress, format_cost

_WHERE = {
    "BatchTable": "table",
    "CompareView": "compare_view",
    "ComparisonView": "scoreboard",
    "VersionsView": "history",
    "GraphView": "graph_view",
    "SpendSummary": "spend",
    "TextProgress": "text",
    "compare_frame": "compare_view",
    "format_cost": "text",
    "render_graph_html": "graph_view",
    "render_graph_text": "graph_view",
    "render_table_html": "table",
    "render_table_text": "table",
}
__all__ = [
    "BatchTable",
    "CompareView",
    "ComparisonView",
    "GraphView",
    "SpendSummary",
    "TextProgress",
    "VersionsView",
    "compare_frame",
    "format_cost",
    "render_graph_html",
    "render_graph_text",
    "render_table_html",
    "render_table_text",
]


__getattr__, __dir__ = lazy_names(__name__, {k: f".{v}" for k, v in _WHERE.items()}, globals())
