"""ComparisonView: versions side by side per idx, with a scoreboard of score, interval and cost.

Like promptfoo's eval matrix (versions as columns, inputs as rows, a summary row of pass rates),
but built for the notebook: the scoreboard comes first (score with its 95% interval, what changed
since the previous version, failed rows, what the answers cost when first paid and what this look
spent now), then the paired verdicts ("v2 better, a real difference, McNemar p = 0.006"), the
confusion tables behind a disclosure, and the per-idx grid with the rows the latest version gets
wrong first (what the next prompt must fix), then the rows where versions disagree, each answer
marked right (✓) or wrong (✗) when truth is known.  Every value is escaped.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._mixin import DisplayMixin
from .html import Markup, details, el, style, text_block
from .table import _is_missing, _text_value
from .text import format_cost, grid

__all__ = ["ComparisonView"]

OK, BAD = "✓", "✗"


class ComparisonView(DisplayMixin):
    """``ComparisonView(comparison)``: the display of a :class:`bfnb.compare.Comparison`."""

    __slots__ = ("cmp", "max_chars", "max_rows")

    def __init__(self, cmp: Any, *, max_rows: int | None = None, max_chars: int | None = None) -> None:
        from ..options import options

        self.cmp = cmp
        self.max_rows = options.display.max_rows if max_rows is None else max_rows
        self.max_chars = options.display.max_chars if max_chars is None else max_chars

    # --- shared pieces -------------------------------------------------------------------------

    def _head(self) -> str:
        c = self.cmp
        n = len(c.frame)
        differ = int((c.frame["diff"] != "").sum())
        parts = [
            f"{len(c.sides)} versions of {c.field!r}",
            f"{n:,} entr{'y' if n == 1 else 'ies'}",
            f"{differ:,} differ",
        ]
        if c.truth_name:
            parts.append(f"scored against {c.truth_name!r}")
        elif c.score_name == "agreement":
            parts.append("scored by a judge")
        return " · ".join(parts)

    def _board(self) -> tuple[list[str], list[list[str]]]:
        c = self.cmp
        heads = ["version", "changed", *([c.score_name] if c.scores else []), "failed", "cost", "spent now", "prompt"]
        body = []
        for i, s in enumerate(c.sides):
            row = [s.label, ", ".join(s.changed) or ("—" if i else "")]
            if c.scores:
                row.append(c.scores[i].text())
            cost = format_cost(s.total_cost_usd)
            if s.judge_cost_usd:
                cost += f" (judge {format_cost(s.judge_cost_usd)})"
            row += [f"{s.failed:,}", cost, format_cost(s.spent_usd), s.args.get("prompt", "")]
            body.append(row)
        return heads, body

    def _ordered(self) -> pd.DataFrame:
        """Rows the latest version gets wrong first (what the next prompt must fix), then rows where
        versions differ, then the rest; input order within each group."""
        f = self.cmp.frame
        same = (f["diff"] == "").to_numpy()
        right = self.cmp.correct.get(self.cmp.sides[-1].label)
        if right is not None:
            key = right.reindex(f.index, fill_value=False).to_numpy().astype(int) * 2 + same
        else:
            key = same.astype(int)
        f = f.iloc[key.argsort(kind="stable")]
        return f if self.max_rows is None else f.iloc[: self.max_rows]

    def _order_note(self) -> str:
        first = f"rows {self.cmp.sides[-1].label} gets wrong first, then" if self.cmp.correct else ""
        return f"{first} rows where versions differ first".replace(
            "then rows where versions differ first", "then rows where versions differ"
        ).strip()

    def _mark(self, label: str, ix: Any) -> str:
        right = self.cmp.correct.get(label)
        if right is None or (self.cmp.truth_name and _is_missing(self.cmp.frame.at[ix, self.cmp.truth_name])):
            return ""
        return OK if bool(right.get(ix, False)) else BAD

    # --- html ----------------------------------------------------------------------------------

    def _render_html(self) -> str:
        c = self.cmp
        heads, body = self._board()
        prompt_col = len(heads) - 1
        board_rows = [
            el("tr", *(el("td", text_block(v, max_chars=80) if j == prompt_col else v) for j, v in enumerate(r)))
            for r in body
        ]
        board = el(
            "table", el("thead", el("tr", *(el("th", h) for h in heads))), el("tbody", *board_rows), cls="bfnb-grid"
        )
        parts: list[Any] = [el("div", self._head(), cls="bfnb-head"), board]
        parts += [el("div", p.text()) for p in c.paired]
        if c.confusions:
            inner = [el("div", el("b", lab), _confusion_html(tab)) for lab, tab in c.confusions.items()]
            parts.append(details("confusion tables (truth × answer)", Markup("".join(inner))))
        parts.append(self._grid_html())
        return style() + el("div", *parts, cls="bfnb bfnb-compare")

    def _grid_html(self) -> Markup:
        c = self.cmp
        f = self._ordered()
        heads = [el("th", "idx")]
        if c.truth_name:
            heads.append(el("th", c.truth_name, el("span", "truth", cls="bfnb-kind")))
        heads += [el("th", s.label, el("span", c.field, cls="bfnb-kind")) for s in c.sides]
        heads.append(el("th", "diff"))
        rows = []
        for ix in f.index.tolist():
            cells = [el("td", str(ix), cls="bfnb-idx")]
            if c.truth_name:
                cells.append(el("td", _text_value(f.at[ix, c.truth_name])))
            for s in c.sides:
                v = f.at[ix, s.label]
                mark = self._mark(s.label, ix)
                body = (
                    el("span", "None", cls="bfnb-none")
                    if _is_missing(v)
                    else text_block(_text_value(v), max_chars=self.max_chars)
                )
                cells.append(
                    el(
                        "td",
                        *([el("span", mark + " ", cls="bfnb-ok" if mark == OK else "bfnb-bad")] if mark else []),
                        body,
                    )
                )
            d = f.at[ix, "diff"]
            cells.append(el("td", d, cls="bfnb-diff" if d else None))
            rows.append(el("tr", *cells))
        n = len(c.frame)
        note = f"showing {len(f):,} of {n:,} entries, {self._order_note()}" if len(f) < n else self._order_note()
        return el(
            "div",
            el("div", note, cls="bfnb-head"),
            el("table", el("thead", el("tr", *heads)), el("tbody", *rows), cls="bfnb-grid"),
        )

    # --- text ----------------------------------------------------------------------------------

    def _render_text(self) -> str:
        c = self.cmp
        heads, body = self._board()
        body = [[*r[:-1], _short(r[-1], 60)] for r in body]
        lines = [self._head(), grid(heads, body)]
        lines += [p.text() for p in c.paired]
        f = self._ordered()
        gheads = ["idx", *([c.truth_name] if c.truth_name else []), *(s.label for s in c.sides), "diff"]
        gbody = []
        for ix in f.index.tolist():
            row = [str(ix)]
            if c.truth_name:
                row.append(_text_value(f.at[ix, c.truth_name]))
            for s in c.sides:
                v = f.at[ix, s.label]
                mark = self._mark(s.label, ix)
                row.append((mark + " " if mark else "") + ("None" if _is_missing(v) else _short(_text_value(v), 40)))
            row.append(f.at[ix, "diff"])
            gbody.append(row)
        n = len(c.frame)
        lines.append(f"showing {len(f):,} of {n:,} entries, {self._order_note()}" if len(f) < n else self._order_note())
        lines.append(grid(gheads, gbody))
        return "\n".join(lines)


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _confusion_html(tab: pd.DataFrame) -> Markup:
    if tab.empty:
        return el("span", "no truth values", cls="bfnb-none")
    heads = [el("th", "truth \\ answer"), *(el("th", str(col), cls="bfnb-num") for col in tab.columns)]
    rows = [
        el("tr", el("td", str(ix)), *(el("td", str(int(v)), cls="bfnb-num") for v in tab.loc[ix].tolist()))
        for ix in tab.index
    ]
    return el("table", el("thead", el("tr", *heads)), el("tbody", *rows), cls="bfnb-grid")
