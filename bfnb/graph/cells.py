"""Cell by cell: re-running a notebook cell replaces what that cell added to a graph.

In a notebook people write ``g |= AskLLM(...)`` in a cell, edit the prompt and run the cell again.
Plain ``|`` would stack a second AskLLM.  So ``g |= op`` remembers, per cell, the graph as it was
before that cell first extended it; when the same cell runs again (a new execution of it), the
extension starts from that remembered graph instead.  Outside IPython ``g |= op`` is ``g = g | op``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["current_cell", "extend_in_cell"]


def current_cell() -> tuple[str, int] | None:
    """(cell id, execution count) of the cell being executed in an IPython kernel, else None."""
    try:
        import sys

        ipy_mod = sys.modules.get("IPython")
        if ipy_mod is None:
            return None
        ip = ipy_mod.get_ipython()
        if ip is None:
            return None
        count = int(getattr(ip, "execution_count", 0))
        kernel = getattr(ip, "kernel", None)
        cell_id = getattr(ip, "_bfnb_cell_id", None)
        if cell_id is None and kernel is not None:
            parent = kernel.get_parent() if hasattr(kernel, "get_parent") else getattr(kernel, "_parent_header", {})
            meta = (parent or {}).get("metadata") or {}
            cell_id = meta.get("cellId") or meta.get("cell_id")
        if cell_id is None:
            # no cell id (nbclient, plain IPython): fall back to the cell's source text
            cell_id = _current_source_key(ip)
        if cell_id is None:
            return None
        return str(cell_id), count
    except Exception:
        return None


def _current_source_key(ip: Any) -> str | None:
    raw = getattr(ip, "_bfnb_current_source", None)
    return f"src:{hash(raw)}" if raw else None


def extend_in_cell(g: Graph, other: Any) -> Graph:
    cell = current_cell()
    if cell is None:
        return g | other
    cell_id, count = cell
    base_info = g._cell_bases.get(cell_id)
    if base_info is not None and base_info[0] != count:
        # this cell ran before and extended the graph then: start again from the graph it extended
        base = base_info[1]
        out = base._chain(other, cell=cell_id)
        out._cell_bases = {k: v for k, v in base._cell_bases.items()}
        out._cell_bases[cell_id] = (count, base)
        return out
    if base_info is None:
        out = g._chain(other, cell=cell_id)
        out._cell_bases[cell_id] = (count, g)
        return out
    return g._chain(other, cell=cell_id)  # a second `g |=` in the same execution of the cell
