"""The live table under a broker panel: the answers so far, filling in while calls go on.

A view, like the panel it sits under: :class:`RowsSoFar` reads a run's rows done so far (a
:class:`~bfnb.executor.partial.Partial` of a blocking run, or a
:class:`~bfnb.executor.handle.RunHandle`'s ``partial()``) when the panel refreshes, at most every
``min_interval`` seconds (a look runs the row-wise ops after the broker op: not too often), and renders them with :class:`~bfnb.display.BatchTable` (escaped HTML).
At a preview it is headed "preview N of M" and shows a button that resumes the run.  Reading
sends nothing and writes nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from bfnb.display import BatchTable

__all__ = ["RowsSoFar", "rows_label"]


def rows_label(n: int, state: str = "running", total: int | None = None, preview: str = "") -> str:
    """The table's heading: ``"preview 5 of 56"``, ``"answers so far: 12 of 56 rows"``, ``"56 rows"``."""
    if preview:
        return preview
    of = f" of {total:,}" if total is not None else ""
    if state == "done":
        return f"{n:,} row{'s' if n != 1 else ''}"
    return f"answers so far: {n:,}{of} row{'s' if (total or n) != 1 else ''}"


class RowsSoFar:
    """A table of the rows finished so far (plus a resume button at a preview); ``refresh()`` from any thread."""

    def __init__(
        self,
        rows: Callable[[], pd.DataFrame],
        *,
        label: Callable[[pd.DataFrame], str] | None = None,
        handle: Any = None,
        min_interval: float = 1.0,
        max_rows: int | None = None,
    ) -> None:
        import ipywidgets as w

        from bfnb.options import options

        self.rows, self.handle = rows, handle
        self.label = label or (lambda df: rows_label(len(df)))
        self.min_interval = min_interval
        self.max_rows = max_rows if max_rows is not None else min(10, options.display.max_rows or 10)
        self.html = w.HTML()
        self.button = w.Button(description="Run the rest", button_style="primary", layout=w.Layout(display="none"))
        self.button.on_click(self._resume)
        self.widget = w.VBox([self.button, self.html])
        self._last = 0.0
        self._lock = threading.Lock()

    @classmethod
    def of_handle(cls, handle: Any, **kwargs: Any) -> RowsSoFar:
        """The rows of a background run or a preview (``handle.partial()``)."""

        def label(df: pd.DataFrame) -> str:
            preview = handle.label() if handle.state == "preview" else ""
            return rows_label(len(df), handle.state, getattr(handle, "preview_total", None), preview)

        return cls(handle.partial, label=label, handle=handle, **kwargs)

    @classmethod
    def of_partial(cls, partial: Any, **kwargs: Any) -> RowsSoFar:
        """The rows of a blocking run (a :class:`~bfnb.executor.partial.Partial`)."""
        return cls(partial.rows, label=lambda df: rows_label(len(df), total=partial.expected), **kwargs)

    def refresh(self, *, force: bool = False) -> None:
        """Re-read and re-render the rows, unless the last render is younger than ``min_interval``."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self.min_interval:
                return
            self._last = now
        df = self.rows()
        at_preview = self.handle is not None and self.handle.state == "preview"
        self.button.layout.display = "" if at_preview else "none"
        if at_preview:
            rest = (self.handle.preview_total or 0) - len(df)
            self.button.description = f"Run the other {rest:,}" if rest > 0 else "Run the rest"
            self.button.disabled = False
        self.html.value = self.html_for(df)

    def html_for(self, df: pd.DataFrame) -> str:
        """The latest ``max_rows`` rows of ``df`` under a heading that counts them all, as escaped HTML.

        The latest: answers are sent in input order, so the last rows answered are the table's end.
        "" when there are no rows yet.
        """
        if not len(df):
            return ""
        shown = df.tail(self.max_rows) if self.max_rows else df
        title = self.label(df) + (f" · the latest {len(shown):,}" if len(shown) < len(df) else "")
        return BatchTable(shown, max_rows=None, title=title)._render_html()

    def clear(self) -> None:
        """Hide the table (a blocking run's cell shows its result right after)."""
        self.html.value = ""
        self.button.layout.display = "none"

    def _resume(self, _button: Any) -> None:
        self.button.disabled = True
        with contextlib.suppress(Exception):  # already resumed or cancelled: nothing to do
            self.handle.resume()
        self.refresh(force=True)
