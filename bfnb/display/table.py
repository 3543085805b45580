"""BatchTable: how a batch looks in a notebook (HTML) and in a terminal or nbval (plain text).

A batch can hold anything a field can hold: long LLM answers, lists, chat histories, embeddings,
bytes.  The table shows the first ``max_rows`` entries with a count of all of them, one column per
field with a short kind (``text``, ``int``, ``array[256] float32`` …), long text shortened to
``max_chars`` with a native ``<details>`` to expand it, containers summarised
(``list[12]: [a, b, c, …]``), failed entries marked with their error and pending ones greyed.
Rendering is two pure functions, :func:`render_table_html` and :func:`render_table_text`; HTML
goes through :mod:`bfnb.display.html` so every value, field name and idx is escaped.  Column kinds
are read from the dtype, or for object columns from at most the first 1,000 non-missing values.

Run ``python -m bfnb.display.table`` to print a sample.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from ..redaction import redact
from ._mixin import DisplayMixin
from .html import Markup, details, el, escape, shorten, style, text_block
from .text import cell_text, grid, safe_repr

__all__ = ["BatchTable", "column_kind", "render_table_html", "render_table_text", "summarize"]

META = ("status", "error")  # bfnb's row-state columns: shown as marks, not as fields
_KIND_SAMPLE = 1_000
_ITEMS = 3  # container items shown in a summary
_FLOATS = 2  # leading values shown for an array or embedding
_EMBED_MIN = 8  # a list of at least this many floats is summarised like an array
_MAX_EXPAND = 20_000  # characters of a container's full form shown when expanded


class BatchTable(DisplayMixin):
    """A rich view of a batch: ``BatchTable(df, max_rows=20, title=None, max_chars=200)``."""

    __slots__ = ("df", "max_chars", "max_rows", "title")

    def __init__(
        self, df: pd.DataFrame, *, max_rows: int | None = 20, title: str | None = None, max_chars: int = 200
    ) -> None:
        self.df = df
        self.max_rows = max_rows
        self.title = title
        self.max_chars = max_chars

    def _render_html(self) -> str:
        return render_table_html(self.df, max_rows=self.max_rows, title=self.title, max_chars=self.max_chars)

    def _render_text(self) -> str:
        return render_table_text(self.df, max_rows=self.max_rows, title=self.title)


# --- kinds and summaries (plain text, shared by both renderings) --------------------------------


def _is_missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and math.isnan(v))


def _missing_text(v: Any) -> str:
    return "NaN" if isinstance(v, (float, np.floating)) else "NaT" if v is pd.NaT else "None"


def _fmt_num(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if math.isnan(f):
        return "NaN"
    r = repr(f)
    return r if len(r) <= 12 else f"{f:.6g}"


def _fmt_float(v: float) -> str:
    return f"{float(v):.3g}"


def _shape(a: np.ndarray) -> str:
    return "×".join(str(d) for d in a.shape)


def _array_summary(a: np.ndarray) -> str:
    shape = "(" + ", ".join(str(d) for d in a.shape) + ("," if a.ndim == 1 else "") + ")"
    flat = a.ravel()
    if a.dtype.kind in "fc":
        k = _FLOATS
        head = [_fmt_float(x) for x in flat[:k]]
    else:
        k = _ITEMS
        head = [_short_item(x.item() if isinstance(x, np.generic) else x) for x in flat[:k]]
    more = ", …" if flat.size > k else ""
    return f"array{shape} {a.dtype} [{', '.join(head)}{more}]"


def _is_embedding(v: list | tuple) -> bool:
    return len(v) >= _EMBED_MIN and all(type(x) is float for x in v)


def _short_item(x: Any, n: int = 20) -> str:
    """An item inside a container summary: scalars shortened, containers by size only."""
    if _is_missing(x):
        return _missing_text(x)
    if isinstance(x, str):
        return cell_text(x, n)
    if isinstance(x, (bool, int, float, np.number, np.bool_)):
        return _fmt_num(x)
    if isinstance(x, (list, tuple)):
        return f"list[{len(x)}]"
    if isinstance(x, dict):
        return f"dict{{{len(x)}}}"
    if isinstance(x, np.ndarray):
        return f"array[{_shape(x)}]"
    if isinstance(x, (bytes, bytearray)):
        return f"bytes[{len(x):,}]"
    return cell_text(safe_repr(x), n)


def summarize(v: Any) -> tuple[str, bool]:
    """A one-line summary of a container value, and whether it left anything out."""
    if isinstance(v, np.ndarray):
        return _array_summary(v), True
    if isinstance(v, (bytes, bytearray, memoryview)):
        return f"bytes[{len(v):,}]", True
    if isinstance(v, (list, tuple)):
        if _is_embedding(v):
            head = ", ".join(_fmt_float(x) for x in v[:_FLOATS])
            return f"list[{len(v)}] float [{head}, …]", True
        items = [_short_item(x) for x in v[:_ITEMS]]
        more = len(v) > _ITEMS
        cut = more or any(
            isinstance(x, (list, tuple, dict, np.ndarray)) or _short_item(x, 10**9) != s
            for x, s in zip(v[:_ITEMS], items, strict=True)
        )
        return f"list[{len(v)}]: [{', '.join(items)}{', …' if more else ''}]", cut
    if isinstance(v, dict):
        keys = list(v)[:_ITEMS]
        items = [f"{_short_item(k)}: {_short_item(v[k])}" for k in keys]
        more = len(v) > _ITEMS
        cut = more or any(not isinstance(v[k], (str, int, float, bool)) or len(str(v[k])) > 20 for k in keys)
        return f"dict{{{len(v)}}}: {{{', '.join(items)}{', …' if more else ''}}}", cut
    return safe_repr(v), False


def _value_kind(v: Any) -> str:
    if isinstance(v, str):
        return "text"
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, dict):
        return "dict"
    if isinstance(v, np.ndarray):
        return "array"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "bytes"
    return type(v).__name__


def column_kind(col: pd.Series) -> str:
    """A short kind for a column: ``text``, ``int``, ``list[256] float``, ``array[256] float32``…"""
    kind = col.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    if kind in "mM":
        return str(col.dtype)
    # Look at the head first: isna over a million object cells costs ~0.1 s, the head almost nothing.
    values = col.iloc[: 4 * _KIND_SAMPLE].dropna().iloc[:_KIND_SAMPLE].tolist()
    if not values and len(col) > 4 * _KIND_SAMPLE:
        values = col.dropna().iloc[:_KIND_SAMPLE].tolist()
    if not values:
        return "empty" if len(col) == 0 else "none"
    kinds = {_value_kind(v) for v in values}
    if kinds == {"int", "float"}:
        return "float"
    if len(kinds) > 1:
        return "mixed"
    (k,) = kinds
    if k == "array":
        shapes = {(v.shape, str(v.dtype)) for v in values}
        if len(shapes) == 1:
            ((shape, dtype),) = shapes
            return f"array[{'×'.join(map(str, shape))}] {dtype}"
    if k == "list" and all(_is_embedding(v) for v in values):
        lengths = {len(v) for v in values}
        return f"list[{lengths.pop()}] float" if len(lengths) == 1 else "list float"
    return k


def _text_value(v: Any) -> str:
    if _is_missing(v):
        return _missing_text(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float, np.number, np.bool_)):
        return _fmt_num(v)
    return summarize(v)[0]


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    return summarize(o)[0] if isinstance(o, (np.ndarray, bytes, bytearray, memoryview)) else safe_repr(o)


def _html_value(v: Any, max_chars: int) -> tuple[Markup, str | None]:
    """A cell's HTML and its class: ``bfnb-num`` (right-aligned), ``bfnb-long`` (wide) or None."""
    if _is_missing(v):
        return el("span", _missing_text(v), cls="bfnb-none"), None
    if isinstance(v, str):
        return text_block(v, max_chars=max_chars), "bfnb-long" if len(v) > max_chars else None
    if isinstance(v, (int, float, np.number, np.bool_)):
        return escape(_fmt_num(v)), None if isinstance(v, (bool, np.bool_)) else "bfnb-num"
    if isinstance(v, (list, tuple, dict)):
        short, cut = summarize(v)
        if not cut:
            return escape(short), None
        try:
            full = json.dumps(v, ensure_ascii=False, indent=1, default=_json_default)
        except (TypeError, ValueError):  # e.g. circular or non-str keys
            full = safe_repr(v)
        full, more = shorten(full, _MAX_EXPAND)
        return details(short, full + (" (cut)" if more else "")), None
    if isinstance(v, (np.ndarray, bytes, bytearray, memoryview)):
        return escape(summarize(v)[0]), None
    text = safe_repr(v)
    return text_block(text, max_chars=max_chars), "bfnb-long" if len(text) > max_chars else None


# --- the two renderings -------------------------------------------------------------------------


_SUB_KEYS = 8  # a dict answer with at most this many flat keys shows as field.key columns
_SCALARS = (str, int, float, bool, type(None), np.integer, np.floating, np.bool_)


def _subfields(shown: pd.DataFrame, f: str) -> list[str] | None:
    """The keys of a structured answer (every shown value a flat dict with the same few keys)."""
    col = shown[f]
    if col.dtype != object or not len(col):
        return None
    keys: dict[str, None] = {}
    seen = False
    for v in col.tolist():
        if _is_missing(v):
            continue
        if (
            not isinstance(v, dict)
            or not v
            or not all(isinstance(k, str) and isinstance(x, _SCALARS) for k, x in v.items())
        ):
            return None
        seen = True
        keys.update(dict.fromkeys(v))
        if len(keys) > _SUB_KEYS:
            return None
    return list(keys) if seen and len(keys) >= 2 else None  # one key: the dict reads fine as it is


def _expand(df: pd.DataFrame, shown: pd.DataFrame, fields: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Structured answers (flat dicts) as ``field.key`` columns, so ``verdict.label`` reads as a column."""
    out_fields: list[str] = []
    extra: dict[str, list[Any]] = {}
    for f in fields:
        keys = _subfields(shown, f)
        if keys is None or any(f"{f}.{k}" in df.columns for k in keys):
            out_fields.append(f)
            continue
        for k in keys:
            extra[f"{f}.{k}"] = [v.get(k) if isinstance(v, dict) else None for v in shown[f].tolist()]
            out_fields.append(f"{f}.{k}")
    if not extra:
        return shown, fields
    shown = shown.copy(deep=False)
    for name, vals in extra.items():
        shown[name] = pd.Series(vals, index=shown.index, dtype=object)
    return shown, out_fields


def _kind(df: pd.DataFrame, shown: pd.DataFrame, f: str) -> str:
    return column_kind(df[f] if f in df.columns else shown[f])


def _layout(df: pd.DataFrame, max_rows: int | None) -> tuple[pd.DataFrame, list[str], str, np.ndarray]:
    """Shown rows, field columns, the header line and each shown row's status."""
    n = len(df)
    shown = df if max_rows is None or n <= max_rows else df.iloc[:max_rows]
    fields = [c for c in df.columns if c != "rev" and c not in META]
    shown, fields = _expand(df, shown, fields)
    head = f"showing {len(shown):,} of {n:,} entries" if len(shown) < n else f"{n:,} entries"
    if n == 1 and len(shown) == 1:
        head = "1 entry"
    if "status" in df.columns:
        status = df["status"]
        counts = [(int((status == s).sum()), s) for s in ("failed", "pending")]
        head += "".join(f" · {c:,} {s}" for c, s in counts if c)
        shown_status = shown["status"].to_numpy(dtype=object)
    else:
        shown_status = np.full(len(shown), None, dtype=object)
    return shown, fields, head, shown_status


def _error_of(shown: pd.DataFrame, i: int) -> str:
    if "error" not in shown.columns:
        return "failed"
    e = shown["error"].iloc[i]
    return "failed" if _is_missing(e) or e == "" else redact(str(e))  # a record from an older bfnb may hold a key


def render_table_html(
    df: pd.DataFrame,
    *,
    max_rows: int | None = 20,
    title: str | None = None,
    max_chars: int = 200,
    css: bool = True,
) -> str:
    """The batch as an HTML table, preceded by the scoped style block unless ``css=False``."""
    shown, fields, head, status = _layout(df, max_rows)
    has_rev = "rev" in df.columns
    heads = [el("th", "idx", el("span", "text", cls="bfnb-kind"))]
    if has_rev:
        heads.append(el("th", "rev", el("span", "int", cls="bfnb-kind"), cls="bfnb-num"))
    heads += [el("th", f, el("span", _kind(df, shown, f), cls="bfnb-kind")) for f in fields]
    cols = [shown[f].tolist() for f in fields]
    revs = shown["rev"].tolist() if has_rev else []
    rows = []
    for i, ix in enumerate(shown.index.tolist()):
        st = status[i]
        mark = "⚠ " if st == "failed" else ""
        cells = [el("td", mark, str(ix), cls="bfnb-idx", title=f"status: {st}" if isinstance(st, str) else None)]
        if has_rev:
            cells.append(el("td", _fmt_num(revs[i]), cls="bfnb-num"))
        for col in cols:
            html, cell_cls = _html_value(col[i], max_chars)
            cells.append(el("td", html, cls=cell_cls))
        cls = {"failed": "bfnb-failed", "pending": "bfnb-pending"}.get(st) if isinstance(st, str) else None
        rows.append(el("tr", *cells, cls=cls))
        if st == "failed":  # the error gets a full-width line under its entry, as in the text
            err = text_block(_error_of(shown, i), max_chars=max_chars)
            rows.append(el("tr", el("td", "⚠ error: ", err, colspan=len(cells)), cls="bfnb-errrow"))
    header = el("div", *([el("b", title), " · "] if title else []), head, cls="bfnb-head")
    table = el("table", el("thead", el("tr", *heads)), el("tbody", *rows), cls="bfnb-grid")
    return (style() if css else "") + el("div", header, table, cls="bfnb bfnb-table")


def render_table_text(
    df: pd.DataFrame, *, max_rows: int | None = 20, title: str | None = None, max_width: int = 40
) -> str:
    """The batch as deterministic plain text: a header line, then one line per entry.

    Failed entries start with ``⚠`` and are followed by an indented ``error:`` line; pending ones
    start with ``…``.
    """
    shown, fields, head, status = _layout(df, max_rows)
    has_rev = "rev" in df.columns
    headers = ["idx", *(["rev"] if has_rev else []), *map(str, fields)]
    kinds = ["", *([""] if has_rev else []), *(f"[{_kind(df, shown, f)}]" for f in fields)]
    right = [
        False,
        *([True] if has_rev else []),
        *((df[f] if f in df.columns else shown[f]).dtype.kind in "iuf" for f in fields),
    ]
    marked = any(isinstance(s, str) and s in ("failed", "pending") for s in status)
    cols = [shown[f].tolist() for f in fields]
    revs = shown["rev"].tolist() if has_rev else []
    rows, errors = [], {}
    for i, ix in enumerate(shown.index.tolist()):
        st = status[i]
        mark = {"failed": "⚠ ", "pending": "… "}.get(st, "  ") if isinstance(st, str) else "  "
        if st == "failed":
            errors[i] = _error_of(shown, i)
        row = [(mark if marked else "") + str(ix), *([_fmt_num(revs[i])] if has_rev else [])]
        rows.append(row + [_text_value(col[i]) for col in cols])
    lines = grid(headers, rows, right=right, max_width=max_width, subheaders=kinds).split("\n")
    offset = len(lines) - len(rows)
    out = [(f"{title} · " if title else "") + head]
    for j, line in enumerate(lines):
        out.append(line)
        i = j - offset
        if i in errors:
            out.append("    error: " + cell_text(errors[i], 100))
    return "\n".join(out)


def _sample() -> pd.DataFrame:
    """A small batch with every kind of value (used by ``python -m bfnb.display.table``)."""
    from bfnb.batch import from_columns

    rng = np.random.default_rng(0)
    n = 5
    story = "Once upon a time, Zeus\nlooked down from Olympus. " * 12
    return from_columns(
        [f"e{i}" for i in range(n)],
        {
            "title": ["Zeus", "Hera", "<img src=x onerror=alert(1)>", "Athena", None],
            "story": [story, "short\ntwo lines", "", story[:90], "x"],
            "words": [3, 7, 12, 0, 5],
            "tags": [["god", "sky", "thunder", "king"], [], ["a"], ["b", "c"], None],
            "meta": [{"k": 1, "src": "md", "line": 4}, {}, {"k": 2}, {"k": 3}, {"k": 4}],
            "emb": [rng.standard_normal(256).astype("float32") for _ in range(n)],
            "raw": [b"\x00" * 1024, b"", b"ab", b"c", b"d"],
            "status": [None, None, "failed", "pending", None],
            "error": [None, None, "ProviderError: 429 Too Many Requests", None, None],
        },
        rev=[0, 1, 0, 2, 0],
    )


if __name__ == "__main__":
    print(render_table_text(_sample(), max_rows=4, title="sample"))
