"""CompareView: two versions of an output side by side, per idx, for prompt iteration.

The two batches are outer-joined on idx (the first batch's order, then entries only the second
has), so an entry that one version dropped or added shows up instead of vanishing.  Each side shows
its value (long text shortened with an expand), its length in characters and a marker where the
two differ; the header totals entries, differences and characters, and each side's cost when
given.  :func:`compare_frame` does the join and is usable on its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bfnb.batch import field_values
from bfnb.errors import MissingFieldError

from ._mixin import DisplayMixin
from .html import el, style, text_block
from .table import _is_missing, _text_value
from .text import format_cost, grid

__all__ = ["CompareView", "compare_frame"]

SAME, DIFFERS = "", "≠"


def _fields(field: str | tuple[str, str]) -> tuple[str, str]:
    return (field, field) if isinstance(field, str) else (field[0], field[1])


def _values_differ(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    try:
        out = np.asarray(x != y, dtype=bool)
        if out.shape == x.shape:
            return out
    except (ValueError, TypeError):  # elements that compare as arrays (embeddings)
        pass
    return np.array([not _same(p, q) for p, q in zip(x, y, strict=True)], dtype=bool)


def _same(p: Any, q: Any) -> bool:
    if isinstance(p, np.ndarray) or isinstance(q, np.ndarray):
        return bool(np.array_equal(np.asarray(p), np.asarray(q)))
    try:
        return bool(p == q)
    except (ValueError, TypeError):
        return repr(p) == repr(q)


def _lengths(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Characters per value: text length, or the length of a non-text value's summary; NaN if absent."""
    return np.fromiter(
        (
            (len(v) if isinstance(v, str) else 0 if _is_missing(v) else len(_text_value(v))) if p else np.nan
            for v, p in zip(values, present, strict=True)
        ),
        dtype=float,
        count=len(values),
    )


def compare_frame(
    a: pd.DataFrame, b: pd.DataFrame, field: str | tuple[str, str], *, labels: tuple[str, str] = ("A", "B")
) -> pd.DataFrame:
    """Outer join on idx: columns ``a``, ``b``, ``len_a``, ``len_b`` (NaN: absent) and ``diff``.

    ``diff`` is ``""`` when equal, ``"≠"`` when both have the entry with different values, and
    ``"only A"``/``"only B"`` (with the given labels) when one side lacks it.
    """
    fa, fb = _fields(field)
    cols = []
    for df, f, lab in ((a, fa, labels[0]), (b, fb, labels[1])):
        try:
            cols.append(field_values(df, f))  # "sentiment.label" reads a key of a dict column
        except MissingFieldError:
            raise MissingFieldError(
                f"{lab} has no field {f!r} to compare (fields: {list(df.columns)})", field=f
            ) from None
    index = a.index.union(b.index, sort=False) if not a.index.equals(b.index) else a.index
    in_a, in_b = index.isin(a.index), index.isin(b.index)
    va = cols[0].reindex(index).to_numpy(dtype=object, copy=True)
    vb = cols[1].reindex(index).to_numpy(dtype=object, copy=True)
    va[~in_a] = None
    vb[~in_b] = None
    diff = np.full(len(index), SAME, dtype=object)
    both = in_a & in_b
    diff[both & _values_differ(va, vb)] = DIFFERS
    diff[in_a & ~in_b] = f"only {labels[0]}"
    diff[~in_a & in_b] = f"only {labels[1]}"
    data = {"a": va, "b": vb, "len_a": _lengths(va, in_a), "len_b": _lengths(vb, in_b), "diff": diff}
    out = pd.DataFrame(
        {k: pd.Series(v, index=index, dtype=float if k.startswith("len") else object) for k, v in data.items()}
    )
    out.index.name = "idx"
    return out


class CompareView(DisplayMixin):
    """``CompareView(a, b, "story")``: two batches' values of one field side by side per idx."""

    __slots__ = ("cost_a", "cost_b", "field", "frame", "labels", "max_chars", "max_rows")

    def __init__(
        self,
        a: pd.DataFrame,
        b: pd.DataFrame,
        field: str | tuple[str, str],
        *,
        labels: tuple[str, str] = ("A", "B"),
        cost_a: float | None = None,
        cost_b: float | None = None,
        max_rows: int | None = 20,
        max_chars: int = 200,
    ) -> None:
        self.field = _fields(field)
        self.labels = (str(labels[0]), str(labels[1]))
        self.frame = compare_frame(a, b, self.field, labels=self.labels)
        self.cost_a, self.cost_b = cost_a, cost_b
        self.max_rows, self.max_chars = max_rows, max_chars

    def _summary(self) -> list[str]:
        f = self.frame
        n = len(f)
        diff = f["diff"].to_numpy(dtype=object)
        parts = [f"{n:,} entr{'y' if n == 1 else 'ies'}", f"{int((diff == DIFFERS).sum()):,} differ"]
        for lab in self.labels:
            k = int((diff == f"only {lab}").sum())
            if k:
                parts.append(f"{k:,} only in {lab}")
        return parts

    def _sides(self) -> list[str]:
        out = []
        given = self.cost_a is not None or self.cost_b is not None
        for lab, fld, col, cost in zip(
            self.labels, self.field, ("len_a", "len_b"), (self.cost_a, self.cost_b), strict=True
        ):
            text = f"{lab} ({fld}): {int(np.nansum(self.frame[col].to_numpy())):,} chars"
            out.append(text + (f", cost {format_cost(cost)}" if given else ""))
        return out

    def _shown(self) -> pd.DataFrame:
        return self.frame if self.max_rows is None else self.frame.iloc[: self.max_rows]

    def _head(self) -> str:
        shown, n = len(self._shown()), len(self.frame)
        lead = f"showing {shown:,} of {n:,} · " if shown < n else ""
        return lead + " · ".join(self._summary())

    def _render_html(self) -> str:
        f = self._shown()
        la, lb = self.labels
        fa, fb = self.field
        heads = [
            el("th", "idx"),
            el("th", la, el("span", fa, cls="bfnb-kind")),
            el("th", "chars", cls="bfnb-num"),
            el("th", lb, el("span", fb, cls="bfnb-kind")),
            el("th", "chars", cls="bfnb-num"),
            el("th", "diff"),
        ]
        rows = []
        cols = [f[c].tolist() for c in ("a", "len_a", "b", "len_b", "diff")]
        for ix, a, na, b, nb, d in zip(f.index.tolist(), *cols, strict=True):
            cells = [
                el("td", str(ix)),
                self._cell(a, na),
                _num(na),
                self._cell(b, nb),
                _num(nb),
                el("td", d, cls="bfnb-diff" if d else None),
            ]
            rows.append(el("tr", *cells))
        head = el("div", self._head(), *(el("div", s) for s in self._sides()), cls="bfnb-head")
        table = el("table", el("thead", el("tr", *heads)), el("tbody", *rows), cls="bfnb-grid")
        return style() + el("div", head, table, cls="bfnb bfnb-compare")

    def _cell(self, v: Any, n: float) -> str:
        if n != n:  # absent on this side
            return el("td", el("span", "—", cls="bfnb-none"))
        if _is_missing(v):
            return el("td", el("span", "None", cls="bfnb-none"))
        text = v if isinstance(v, str) else _text_value(v)
        cls = "bfnb-long" if len(text) > self.max_chars else None
        return el("td", text_block(text, max_chars=self.max_chars), cls=cls)

    def _render_text(self) -> str:
        f = self._shown()
        la, lb = self.labels
        heads = ["idx", f"{la}: {self.field[0]}", "chars", f"{lb}: {self.field[1]}", "chars", "diff"]
        body = []
        for ix, a, na, b, nb, d in zip(
            f.index.tolist(), *(f[c].tolist() for c in ("a", "len_a", "b", "len_b", "diff")), strict=True
        ):
            body.append(
                [
                    str(ix),
                    "—" if na != na else _text_value(a),
                    _len(na),
                    "—" if nb != nb else _text_value(b),
                    _len(nb),
                    d,
                ]
            )
        table = grid(heads, body, right=[False, False, True, False, True, False])
        return "\n".join([self._head(), *self._sides(), table])


def _len(n: float) -> str:
    return "—" if n != n else f"{int(n):,}"


def _num(n: float) -> str:
    return el("td", _len(n), cls="bfnb-num")


if __name__ == "__main__":
    from .table import _sample

    a = _sample()
    b = a.iloc[1:].assign(story=a["story"].iloc[1:].map(lambda s: s.upper() if s else s))
    print(CompareView(a, b, "story", labels=("prompt v1", "prompt v2"), cost_a=0.0123, cost_b=None))
