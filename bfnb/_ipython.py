"""IPython glue: what makes bfnb feel native in a notebook.

Installed on ``import bfnb`` when running inside IPython (nothing happens in a plain script):

* a cell ending with ``g |= op`` (or with ``g``) runs the graph and shows it: the op chain with
  rows, cache hits and cost, then the result table.  The run happens in the cell, so an error
  fails the cell like any other error;
* the id of the running cell is passed to :mod:`bfnb.graph.cells` before each cell, so
  re-running a cell replaces what it added to a graph;
* a graph displays as its op chain and result table (a mimebundle formatter registered here:
  the graph layer knows nothing of IPython);
* batches (DataFrames with an ``idx`` index and a ``rev`` column) display as bfnb tables;
* broker work shows a live panel (ipywidgets) while it runs;
* after each cell, a statement ``g | op`` whose graph is thrown away gets a warning pointing at
  ``g |= op`` (batchfactory's ``|`` changed ``g`` in place, so its snippets write ``g | op``;
  in bfnb graphs are values and ``g`` is unchanged).
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["discarded_graphs", "graph_mimebundle", "install", "show"]

_SHOW = "__bfnb_show__"
_installed = False


def _view(g: Any) -> Any:
    from .display import GraphView
    from .options import options

    rep = g.last_run
    ops = [n.as_dict() for n in rep.nodes] if rep is not None else []
    result = rep.tail_result() if rep is not None and rep.tail_id in rep.results else None
    return GraphView(ops, result, max_rows=options.display.max_rows, max_chars=options.display.max_chars)


def _fresh(g: Any) -> bool:
    """Whether ``g.last_run`` is a run of exactly this graph as it is now."""
    rep = g.last_run
    return rep is not None and rep.graph is g


def show(value: Any) -> Any:
    """Run a graph a cell ends with (errors fail the cell) and return it for display."""
    from .graph import Graph
    from .options import options

    if isinstance(value, Graph) and len(value) and options.dispatch_on_display and not _fresh(value):
        value.run()
    return value


def graph_mimebundle(g: Any) -> dict[str, str]:
    """A graph's display: the chain and the table of its last run; looking never runs it.

    A cell ending with the graph runs it first (:func:`show`, the cell hook: what pays is named);
    any other display (``display(g)``, a graph inside a list) shows what is there, or "not run yet".
    """
    if len(g) == 0:
        return {"text/plain": "Graph()"}
    if not _fresh(g):
        from .display.html import escape

        text = f"{g!r}\n\nnot run yet: end a cell with it, or call .run(), to run it"
        return {"text/plain": text, "text/html": f"<pre>{escape(text)}</pre>"}
    return _view(g)._repr_mimebundle_()


def _is_batch(df: Any) -> bool:
    return getattr(df.index, "name", None) == "idx" and "rev" in getattr(df, "columns", ())


def _batch_html(df: Any) -> str | None:
    if _is_batch(df):
        from .display import BatchTable
        from .options import options

        return BatchTable(df, max_rows=options.display.max_rows, max_chars=options.display.max_chars)._render_html()
    method = getattr(df, "_repr_html_", None)
    return method() if method is not None else None


class _ShowLast(ast.NodeTransformer):
    """Rewrite a cell's last statement so its graph runs (and shows) inside the cell."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        if not node.body:
            return node
        last = node.body[-1]
        call = None
        if isinstance(last, ast.AugAssign) and isinstance(last.op, ast.BitOr) and isinstance(last.target, ast.Name):
            call = ast.Expr(ast.Call(ast.Name(_SHOW, ast.Load()), [ast.Name(last.target.id, ast.Load())], []))
            node.body.append(call)
        elif isinstance(last, ast.Expr) and not isinstance(last.value, ast.Await):
            last.value = ast.Call(ast.Name(_SHOW, ast.Load()), [last.value], [])
        ast.fix_missing_locations(node)
        return node


def cell_key(ip: Any, info: Any) -> str | None:
    """The id of the cell about to run: the front end's cell id (JupyterLab, VS Code send one,
    in the event or in the request's metadata), else a key from its source text (nbclient and the
    terminal IPython send none; a re-run of an unchanged cell is then still recognised)."""
    cell_id = getattr(info, "cell_id", None)
    kernel = getattr(ip, "kernel", None)
    if cell_id is None and kernel is not None:
        parent = kernel.get_parent() if hasattr(kernel, "get_parent") else getattr(kernel, "_parent_header", {})
        meta = (parent or {}).get("metadata") or {}
        cell_id = meta.get("cellId") or meta.get("cell_id")
    if cell_id is None:
        raw = getattr(info, "raw_cell", None)
        cell_id = f"src:{hash(raw)}" if raw else None
    return None if cell_id is None else str(cell_id)


def _pre_run_cell(info: Any) -> None:
    from .graph import cells

    ip = _ip()
    try:
        key = None if ip is None else cell_key(ip, info)
    except Exception:  # finding the cell must never break it: g |= op then just appends
        key = None
    if key is None:
        cells.leave_cell()
    else:
        cells.enter_cell(key, int(getattr(ip, "execution_count", 0) or 0))


def _leftmost_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        node = node.left
    return node.id if isinstance(node, ast.Name) else None


def _statements(body: list[ast.stmt]) -> Any:
    """Every statement run at the cell's top level (inside with/for/if/try too, not in functions)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(stmt, field, None) or [])
        for handler in getattr(stmt, "handlers", None) or []:
            yield from _statements(handler.body)


def discarded_graphs(source: str, namespace: dict[str, Any]) -> list[str]:
    """Warnings for the statements of a cell that build ``g | op`` and throw the graph away.

    Only a name that holds a bfnb graph or op counts (``a | b`` of sets is left alone); the cell's
    last statement, whose value is shown, is reported too, since it is still not kept.
    """
    from .graph import Graph
    from .op.op import Op

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    last = tree.body[-1] if tree.body else None
    out = []
    for stmt in _statements(tree.body):
        if not (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, ast.BitOr)
        ):
            continue
        name = _leftmost_name(stmt.value)
        if name is None or not isinstance(namespace.get(name), Graph | Op):
            continue
        text = ast.get_source_segment(source, stmt.value) or ast.unparse(stmt.value)
        first = text.splitlines()[0] + (" ..." if "\n" in text else "")
        fate = "is shown but not kept" if stmt is last else "builds a new graph and throws it away"
        out.append(
            f"bfnb: line {stmt.lineno}: `{first}` {fate}: graphs are values, so `{name}` is unchanged. "
            f"Write `{name} |= ...` to extend `{name}` (batchfactory's `|` changed the graph in place)."
        )
    return out


def _post_run_cell(result: Any) -> None:
    import sys

    from .graph import cells

    cells.leave_cell()
    ip = _ip()
    source = getattr(getattr(result, "info", None), "raw_cell", None)
    if ip is None or not source or "|" not in source:
        return
    try:
        source = ip.transform_cell(source)  # magics and other IPython syntax become Python
        messages = discarded_graphs(source, ip.user_ns)
    except Exception:  # a warning helper must never break a cell
        return
    for message in messages:
        print(message, file=sys.stderr)


def _ip() -> Any:
    try:
        from IPython import get_ipython

        return get_ipython()
    except ImportError:
        return None


def install() -> bool:
    """Hook bfnb into the running IPython (idempotent); returns False outside IPython."""
    global _installed
    import sys

    if _installed or "IPython" not in sys.modules:
        return _installed
    ip = _ip()
    if ip is None:
        return False
    import pandas as pd

    ip.user_ns[_SHOW] = show
    if not any(isinstance(t, _ShowLast) for t in ip.ast_transformers):
        ip.ast_transformers.append(_ShowLast())
    ip.events.register("pre_run_cell", _pre_run_cell)
    ip.events.register("post_run_cell", _post_run_cell)
    ip.display_formatter.formatters["text/html"].for_type(pd.DataFrame, _batch_html)
    from .graph import Graph

    ip.display_formatter.mimebundle_formatter.for_type(Graph, graph_mimebundle)
    try:
        from .brokers.human_broker import set_answerer
        from .brokers.registry import all_brokers
        from .executor import hooks
        from .op import progress
        from .widgets import live_progress, watch_background
        from .widgets.label import answer_in_widget

        progress.set_display(lambda getter: live_progress(getter))
        hooks.wrap_background = lambda handle: watch_background(handle, progress.since_now(all_brokers))
        set_answerer(answer_in_widget)  # AskHuman's questions go to a label widget
    except ImportError:  # ipywidgets missing: text progress only
        pass
    _installed = True
    return True
