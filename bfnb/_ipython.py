"""IPython glue: rich display of graphs and batches (filled in by the notebook layer)."""

from __future__ import annotations

from typing import Any


def graph_mimebundle(g: Any) -> dict[str, str]:
    return {"text/plain": repr(g)}
