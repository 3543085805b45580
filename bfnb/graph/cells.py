"""Cell by cell: re-running a notebook cell replaces what that cell added to a graph.

In a notebook people write ``g |= AskLLM(...)`` in a cell, edit the prompt and run the cell again.
Plain ``|`` would stack a second AskLLM.  So ``g |= op`` remembers, per cell, the graph as it was
before that cell first extended it; when the same cell runs again (a new execution of it), the
extension starts from that remembered graph instead.  Outside a notebook cell ``g |= op`` is
``g = g | op``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["current_cell", "enter_cell", "extend_in_cell", "leave_cell"]

# (cell id, execution count) of the notebook cell running now, set by the notebook layer
# (:mod:`bfnb._ipython` calls enter_cell before each cell and leave_cell after it).  The graph
# layer never looks for IPython itself.
_cell: tuple[str, int] | None = None


def enter_cell(cell_id: str, count: int) -> None:
    """A notebook cell starts: ``g |= op`` in it replaces what an earlier run of it added."""
    global _cell
    _cell = (str(cell_id), int(count))


def leave_cell() -> None:
    global _cell
    _cell = None


def current_cell() -> tuple[str, int] | None:
    """(cell id, execution count) of the notebook cell being run, else None."""
    return _cell


def extend_in_cell(g: Graph, other: Any) -> Graph:
    cell = current_cell()
    if cell is None:
        return g | other
    cell_id, count = cell
    base_info = g.cell_base(cell_id)
    if base_info is not None and base_info[0] != count:
        # this cell ran before and extended the graph then: start again from the graph it extended
        base = base_info[1]
        return base.extended(other, cell=cell_id, count=count, base=base)
    if base_info is None:
        return g.extended(other, cell=cell_id, count=count, base=g)
    return g.extended(other, cell=cell_id)  # a second `g |=` in the same execution of the cell
