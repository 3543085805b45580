"""The only place that builds raw HTML: escaping, elements, expandable text and the scoped CSS.

Everything bfnb shows comes from data it does not control (LLM answers, file contents, field names,
idx values), so HTML is never written by string formatting elsewhere.  Display modules describe
their output with :func:`el` and pass plain values as children; a value becomes HTML only through
:func:`escape`, and only a :class:`Markup` (produced here) passes through unchanged.  An answer
holding ``<img src=x onerror=alert(1)>`` therefore shows as text.  No JavaScript is emitted: long
text expands with a native ``<details>`` element.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CSS",
    "Markup",
    "details",
    "el",
    "escape",
    "join",
    "shorten",
    "style",
    "text_block",
]

# no script, no style (the one style block is built by style()), nothing that loads a URL
_TAGS = frozenset(["table", "thead", "tbody", "tr", "th", "td", "div", "span", "details", "summary", "b", "i", "code"])
_ATTR_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


class Markup(str):
    """A string known to be safe HTML (built by this module)."""

    __slots__ = ()

    def __add__(self, other: object) -> Markup:
        return Markup(str.__add__(self, escape(other)))


def escape(value: Any) -> Markup:
    """``value`` as HTML text: ``Markup`` unchanged, anything else ``str()``-ed and escaped."""
    if isinstance(value, Markup):
        return value
    return Markup(_html.escape(value if isinstance(value, str) else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    """Concatenate children, escaping each one that is not already ``Markup``."""
    return Markup(escape(sep).join(escape(p) for p in parts))


def el(tag: str, *children: Any, cls: str | None = None, **attrs: Any) -> Markup:
    """``<tag attrs>children</tag>``; children and attribute values are escaped.

    Attribute names use ``_`` for ``-`` (``data_x`` → ``data-x``); ``None`` values are left out.
    """
    if tag not in _TAGS:
        raise ValueError(f"tag {tag!r} is not allowed in bfnb displays")
    parts = [f"<{tag}"]
    if cls:
        parts.append(f' class="{escape(cls)}"')
    for name, value in attrs.items():
        if value is None:
            continue
        name = name.rstrip("_").replace("_", "-")
        if not _ATTR_NAME.match(name) or name.startswith("on"):
            raise ValueError(f"attribute {name!r} is not allowed in bfnb displays")
        parts.append(f' {name}="{escape(value)}"')
    parts.append(">")
    parts.append(join(children))
    parts.append(f"</{tag}>")
    return Markup("".join(parts))


def shorten(text: str, max_chars: int) -> tuple[str, bool]:
    """The first ``max_chars`` characters plus ``…``, and whether anything was cut."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text, False
    return text[:max_chars] + "…", True


def text_block(text: str, *, max_chars: int = 200, max_expand: int = 20_000) -> Markup:
    """Text that shows its first ``max_chars`` characters and expands (no JS) to the full text.

    The expanded text is capped at ``max_expand`` characters so one huge value cannot make a
    notebook output of many megabytes.
    """
    short, cut = shorten(text, max_chars)
    if not cut:
        return escape(text)
    full, more = shorten(text, max_expand)
    tail = f" ({len(text) - max_expand:,} more characters not shown)" if more else ""
    return details(short, full + tail, note=f"{len(text):,} chars")


def details(summary: Any, full: Any, *, note: str | None = None) -> Markup:
    """A native disclosure: ``summary`` while closed, ``full`` when opened."""
    head = [el("span", summary, cls="bfnb-prev")]
    if note:
        head.append(el("span", f" [{note}]", cls="bfnb-note"))
    return el("details", el("summary", *head), el("div", full, cls="bfnb-full"))


def style() -> Markup:
    """The ``<style>`` block for every bfnb display (scoped by the ``bfnb`` class)."""
    return Markup(f"<style>{CSS}</style>")


# Colours come from JupyterLab's theme variables, so light and dark themes both read well; the
# fallbacks are translucent so they also work in VS Code, Colab and classic Notebook.
CSS = """
.bfnb{font-size:var(--jp-code-font-size,12px);color:var(--jp-ui-font-color1,inherit);margin:2px 0}
.bfnb .bfnb-head{margin:2px 0 4px;color:var(--jp-ui-font-color2,inherit)}
.bfnb .bfnb-head b{color:var(--jp-ui-font-color1,inherit)}
.bfnb table.bfnb-grid{border-collapse:collapse;border:none;margin:0 0 6px;table-layout:auto}
.bfnb .bfnb-grid th,.bfnb .bfnb-grid td{border:none;padding:3px 8px;text-align:left;vertical-align:top;
 border-bottom:1px solid var(--jp-border-color2,rgba(127,127,127,.25));line-height:1.35;
 font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)}
.bfnb .bfnb-grid td{white-space:pre-wrap;overflow-wrap:break-word;max-width:40em}
.bfnb .bfnb-grid td.bfnb-long{min-width:20em}
.bfnb .bfnb-grid td.bfnb-idx{white-space:nowrap}
.bfnb .bfnb-grid th{white-space:nowrap;font-weight:600;
 border-bottom:1px solid var(--jp-border-color1,rgba(127,127,127,.5))}
.bfnb .bfnb-grid tbody tr{background:transparent}
.bfnb .bfnb-grid tbody tr:nth-child(even){background:var(--jp-layout-color2,rgba(127,127,127,.06))}
.bfnb .bfnb-grid tbody tr:hover{background:var(--jp-rendermime-table-row-hover-background,rgba(66,165,245,.12))}
.bfnb .bfnb-kind{display:block;font-weight:400;font-size:90%;color:var(--jp-ui-font-color2,inherit);opacity:.8}
.bfnb .bfnb-grid .bfnb-num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bfnb .bfnb-none{color:var(--jp-ui-font-color3,rgba(127,127,127,.9));font-style:italic}
.bfnb .bfnb-note{color:var(--jp-ui-font-color2,inherit);opacity:.75}
.bfnb details>summary{cursor:pointer}
.bfnb details[open]>summary .bfnb-prev{display:none}
.bfnb .bfnb-grid tr.bfnb-failed>td:first-child,.bfnb .bfnb-grid tr.bfnb-errrow>td{
 border-left:3px solid var(--jp-error-color1,#d32f2f)}
.bfnb .bfnb-grid tbody tr.bfnb-failed,.bfnb .bfnb-grid tbody tr.bfnb-errrow{background:rgba(211,47,47,.08)}
.bfnb .bfnb-grid tr.bfnb-failed>td{border-bottom:none}
.bfnb .bfnb-grid tr.bfnb-errrow>td{color:var(--jp-error-color1,#d32f2f);padding-top:0}
.bfnb .bfnb-grid tr.bfnb-pending>td{opacity:.55}
.bfnb .bfnb-ok{color:var(--jp-success-color1,#2e7d32);font-weight:600}
.bfnb .bfnb-bad{color:var(--jp-error-color1,#d32f2f);font-weight:600}
.bfnb .bfnb-diff{color:var(--jp-warn-color1,#e65100);font-weight:600}
.bfnb .bfnb-grid tr.bfnb-total>td{font-weight:600;border-top:1px solid var(--jp-border-color1,rgba(127,127,127,.5))}
"""
