"""GraphView: what a cell's graph did, op by op, followed by its result.

The executor hands over plain dicts, one per op in execution order (``label``, ``kind``,
``rows_in``, ``rows_out``, ``source`` (``"memo"``/``"checkpoint"``/``"ledger"``/``"run"``/``"not needed"``;
older callers give ``cached``, a bool or one of those words),
``calls_sent``, ``calls_cached``, ``cost_usd`` (None: unknown), ``seconds``, ``tag``), so this
module knows nothing of graphs or nodes.  The op chain is a compact table (#, op, rows in → out,
cache, calls, cost, time) and the tail batch follows as a :class:`~bfnb.display.table.BatchTable`.
The plain text leaves out the times, so nbval can compare it; in HTML each time sits in a
``<span class="bfnb-time">`` that one sanitize pattern can blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ._mixin import DisplayMixin
from .html import Markup, el, style
from .table import render_table_html, render_table_text
from .text import format_cost, format_int, format_seconds, grid, total_cost

__all__ = ["GraphView", "render_graph_html", "render_graph_text"]


class GraphView(DisplayMixin):
    """``GraphView(ops, result=None)``: the op chain, then the result table when given."""

    __slots__ = ("max_chars", "max_rows", "ops", "result", "title")

    def __init__(
        self,
        ops: Sequence[Mapping[str, Any]],
        result: pd.DataFrame | None = None,
        *,
        max_rows: int | None = 20,
        max_chars: int = 200,
        title: str | None = None,
    ) -> None:
        self.ops = list(ops)
        self.result = result
        self.max_rows = max_rows
        self.max_chars = max_chars
        self.title = title

    def _render_html(self) -> str:
        return render_graph_html(
            self.ops, self.result, max_rows=self.max_rows, max_chars=self.max_chars, title=self.title
        )

    def _render_text(self) -> str:
        return render_graph_text(self.ops, self.result, max_rows=self.max_rows, title=self.title)


def _op_name(op: Mapping[str, Any]) -> str:
    label = str(op.get("label") or op.get("kind") or "op")
    tag = op.get("tag")
    return f"{label} [{tag}]" if tag and tag != label else label


def _rows(op: Mapping[str, Any]) -> str:
    rin, rout = op.get("rows_in"), op.get("rows_out")
    out = "—" if rout is None else format_int(rout)
    return out if rin is None else f"{format_int(rin)} → {out}"


def _cache(op: Mapping[str, Any]) -> str:
    src = op.get("source")
    if isinstance(src, str):
        return src
    c = op.get("cached")
    if c is True:
        return "cached"
    return c if isinstance(c, str) else ""


def _has_calls(op: Mapping[str, Any]) -> bool:
    return bool(op.get("calls_sent") or op.get("calls_cached")) or op.get("cost_usd") not in (None, 0)


def _calls(op: Mapping[str, Any]) -> str:
    if not _has_calls(op):
        return ""
    sent, cached = int(op.get("calls_sent") or 0), int(op.get("calls_cached") or 0)
    return f"{sent:,} sent, {cached:,} cached"


def _cost(op: Mapping[str, Any]) -> str:
    return format_cost(op.get("cost_usd")) if _has_calls(op) else ""


def _totals(ops: Sequence[Mapping[str, Any]]) -> tuple[str, str, float]:
    paid = [op for op in ops if _has_calls(op)]
    sent = sum(int(op.get("calls_sent") or 0) for op in paid)
    cached = sum(int(op.get("calls_cached") or 0) for op in paid)
    calls = f"{sent:,} sent, {cached:,} cached" if paid else ""
    cost = total_cost(op.get("cost_usd") for op in paid) if paid else "$0"
    seconds = sum(float(op.get("seconds") or 0.0) for op in ops)
    return calls, cost, seconds


def _head(ops: Sequence[Mapping[str, Any]], title: str | None) -> str:
    n = len(ops)
    head = f"{n} op" + ("" if n == 1 else "s")
    return f"{title} · {head}" if title else head


def render_graph_html(
    ops: Sequence[Mapping[str, Any]],
    result: pd.DataFrame | None = None,
    *,
    max_rows: int | None = 20,
    max_chars: int = 200,
    title: str | None = None,
) -> str:
    """The op chain as an HTML table, followed by the result table."""

    def time(s: Any) -> Markup:
        return el("span", format_seconds(float(s)) if s is not None else "—", cls="bfnb-time")

    heads = ["#", "op", "rows in → out", "from", "calls", "cost", "time"]
    num = {0, 2, 4, 5, 6}
    rows = []
    for i, op in enumerate(ops, 1):
        kind = op.get("kind")
        name: list[Any] = [_op_name(op)] + ([el("span", kind, cls="bfnb-kind")] if kind else [])
        vals: list[Any] = [str(i), name, _rows(op), _cache(op), _calls(op), _cost(op), time(op.get("seconds"))]
        cells = [
            el("td", *(v if isinstance(v, list) else [v]), cls="bfnb-num" if j in num else None)
            for j, v in enumerate(vals)
        ]
        rows.append(el("tr", *cells))
    calls, cost, seconds = _totals(ops)
    total = ["", "total", "", "", calls, cost, time(seconds)]
    rows.append(
        el("tr", *(el("td", v, cls="bfnb-num" if j in num else None) for j, v in enumerate(total)), cls="bfnb-total")
    )
    thead = el("thead", el("tr", *(el("th", h, cls="bfnb-num" if j in num else None) for j, h in enumerate(heads))))
    chain = el(
        "div",
        el("div", _head(ops, title), cls="bfnb-head"),
        el("table", thead, el("tbody", *rows), cls="bfnb-grid"),
        cls="bfnb bfnb-graph",
    )
    if result is None:
        return style() + chain
    return style() + chain + Markup(render_table_html(result, max_rows=max_rows, max_chars=max_chars, css=False))


def render_graph_text(
    ops: Sequence[Mapping[str, Any]],
    result: pd.DataFrame | None = None,
    *,
    max_rows: int | None = 20,
    title: str | None = None,
) -> str:
    """A compact listing of the ops (no times: this text must be deterministic), then the table."""
    heads = ["#", "op", "rows in → out", "from", "calls", "cost"]
    body = [[str(i), _op_name(op), _rows(op), _cache(op), _calls(op), _cost(op)] for i, op in enumerate(ops, 1)]
    calls, cost, _ = _totals(ops)
    body.append(["", "total", "", "", calls, cost])
    text = _head(ops, title) + "\n" + grid(heads, body, right=[True, False, True, False, True, True])
    if result is not None:
        text += "\n\n" + render_table_text(result, max_rows=max_rows)
    return text


if __name__ == "__main__":
    from .table import _sample

    print(
        render_graph_text(
            [
                dict(label="ReadMarkdownEntries", kind="source", rows_out=5, cached="memo", seconds=0.01),
                dict(
                    label="AskLLM",
                    kind="broker",
                    rows_in=5,
                    rows_out=5,
                    calls_sent=3,
                    calls_cached=2,
                    cost_usd=0.0123,
                    seconds=1.5,
                    tag="poems",
                ),
                dict(label="EmbedText", kind="broker", rows_in=5, rows_out=5, calls_sent=5, cost_usd=None),
            ],
            _sample(),
            max_rows=3,
        )
    )
