"""Rich displays of batches, graphs, comparisons and spend (HTML for Jupyter, text elsewhere).

Every display object renders with pure functions and gets ``_repr_mimebundle_`` from one mixin;
HTML is built only in :mod:`bfnb.display.html`, which escapes every value.  Nothing here imports
IPython or ipywidgets.
"""

from __future__ import annotations

from .compare import CompareView, compare_frame
from .graph import GraphView, render_graph_html, render_graph_text
from .spend import SpendSummary
from .table import BatchTable, render_table_html, render_table_text
from .text import TextProgress, format_cost

__all__ = [
    "BatchTable",
    "CompareView",
    "GraphView",
    "SpendSummary",
    "TextProgress",
    "compare_frame",
    "format_cost",
    "render_graph_html",
    "render_graph_text",
    "render_table_html",
    "render_table_text",
]
