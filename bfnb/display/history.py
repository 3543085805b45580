"""VersionsView: the recorded versions of prompt slots, with what changed from one to the next.

One row per version (slot, number, what changed since the slot's previous version, the model that
answered, rows, failed rows, what the answers cost when first paid, what the recording run spent,
the prompt, expandable in HTML).  Reading it never sends a call: it is drawn from the project's
version manifest.  No timestamps in the text form, so a stored notebook output stays comparable.
"""

from __future__ import annotations

from typing import Any

from ._mixin import DisplayMixin
from .html import el, style, text_block
from .text import format_cost, grid

__all__ = ["VersionsView"]


class VersionsView(DisplayMixin):
    """``VersionsView(version_list)``: a table of recorded versions."""

    __slots__ = ("versions",)

    def __init__(self, versions: Any) -> None:
        self.versions = versions

    def _rows(self) -> list[list[str]]:
        prev: dict[str, Any] = {}
        rows = []
        for v in self.versions:
            changed = ", ".join(v.changes(prev.get(v.slot))) or ("—" if v.slot in prev else "first")
            rows.append(
                [
                    v.slot,
                    f"v{v.number}",
                    changed,
                    v.answered_by or "",
                    f"{v.rows:,}",
                    f"{v.failed:,}",
                    format_cost(v.cost_usd),
                    format_cost(v.spent_usd),
                    v.args.get("prompt", ""),
                ]
            )
            prev[v.slot] = v
        return rows

    def _head(self) -> str:
        n = len(self.versions)
        slots = sorted({v.slot for v in self.versions})
        where = f" of {slots[0]!r}" if len(slots) == 1 else f" of {len(slots)} slots"
        proj = getattr(self.versions.project, "name", None)
        tail = f" in project {proj!r}" if proj else ""
        if not n:
            return f"no versions recorded yet{tail}: tag an op (.tag('name')) or run it from a notebook cell"
        return f"{n} version{'s' if n != 1 else ''}{where}{tail} · read from disk, nothing sent"

    _HEADS = ("slot", "version", "changed", "answered by", "rows", "failed", "cost", "spent", "prompt")

    def _render_text(self) -> str:
        rows = [[*r[:-1], _short(r[-1])] for r in self._rows()]
        if not rows:
            return self._head()
        return (
            self._head()
            + "\n"
            + grid(self._HEADS, rows, right=[False, False, False, False, True, True, True, True, False])
        )

    def _render_html(self) -> str:
        num = {4, 5, 6, 7}
        thead = el(
            "thead", el("tr", *(el("th", h, cls="bfnb-num" if j in num else None) for j, h in enumerate(self._HEADS)))
        )
        body = []
        for r in self._rows():
            cells = [
                el("td", text_block(v, max_chars=80) if j == 8 else v, cls="bfnb-num" if j in num else None)
                for j, v in enumerate(r)
            ]
            body.append(el("tr", *cells))
        table = el("table", thead, el("tbody", *body), cls="bfnb-grid")
        return style() + el("div", el("div", self._head(), cls="bfnb-head"), table, cls="bfnb bfnb-versions")


def _short(text: str, n: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
