"""SpendSummary: calls, tokens and dollars per op or per broker, with totals.

Rows are plain dicts (``op`` or ``broker``, ``calls_sent``, ``calls_cached``, ``input_tokens``,
``output_tokens``, ``cost_usd``) so the ledger, the executor or a run handle can each produce
them.  A cost of ``None`` means the price is unknown and is shown as ``unknown``; a total over
rows with some unknown costs reads ``$0.12 + unknown``.  A missing price is never shown as ``$0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._mixin import DisplayMixin
from .html import el, style
from .text import format_cost, format_int, grid, total_cost

__all__ = ["SpendSummary"]

_COLS = ("calls sent", "calls cached", "input tokens", "output tokens", "cost")
_KEYS = ("calls_sent", "calls_cached", "input_tokens", "output_tokens")


class SpendSummary(DisplayMixin):
    """``SpendSummary(rows)``: one line per op or broker, then the totals."""

    __slots__ = ("rows", "title")

    def __init__(self, rows: Sequence[Mapping[str, Any]], *, title: str | None = None) -> None:
        self.rows = [dict(r) for r in rows]
        self.title = title

    @property
    def total_cost_usd(self) -> float | None:
        """The total in dollars, or None when any row's cost is unknown."""
        from ..brokers.pricing import total_usd

        return total_usd(r.get("cost_usd") for r in self.rows)

    def _name_header(self) -> str:
        has_op = any("op" in r for r in self.rows)
        has_broker = any("broker" in r for r in self.rows)
        return "op" if has_op and not has_broker else "broker" if has_broker and not has_op else "name"

    def _table(self) -> tuple[list[str], list[list[str]]]:
        heads = [self._name_header(), *_COLS]
        body = []
        for r in self.rows:
            name = r.get("op") or r.get("broker") or r.get("name") or "?"
            body.append([str(name), *(format_int(int(r.get(k) or 0)) for k in _KEYS), format_cost(r.get("cost_usd"))])
        totals = [format_int(sum(int(r.get(k) or 0) for r in self.rows)) for k in _KEYS]
        body.append(["total", *totals, total_cost(r.get("cost_usd") for r in self.rows) if self.rows else "$0"])
        return heads, body

    def _head(self) -> str:
        n = len(self.rows)
        head = f"spend over {n} {self._name_header()}{'' if n == 1 else 's'}"
        return f"{self.title} · {head}" if self.title else head

    def _render_text(self) -> str:
        heads, body = self._table()
        return self._head() + "\n" + grid(heads, body, right=[False] + [True] * len(_COLS))

    def _render_html(self) -> str:
        heads, body = self._table()
        thead = el("thead", el("tr", *(el("th", h, cls="bfnb-num" if j else None) for j, h in enumerate(heads))))
        rows = [
            el(
                "tr",
                *(el("td", v, cls="bfnb-num" if j else None) for j, v in enumerate(r)),
                cls="bfnb-total" if i == len(body) - 1 else None,
            )
            for i, r in enumerate(body)
        ]
        table = el("table", thead, el("tbody", *rows), cls="bfnb-grid")
        return style() + el("div", el("div", self._head(), cls="bfnb-head"), table, cls="bfnb bfnb-spend")


if __name__ == "__main__":
    print(
        SpendSummary(
            [
                dict(op="AskLLM", calls_sent=3, calls_cached=2, input_tokens=1200, output_tokens=300, cost_usd=0.0123),
                dict(op="EmbedText", calls_sent=5, calls_cached=0, input_tokens=5000, output_tokens=0, cost_usd=None),
            ]
        )
    )
