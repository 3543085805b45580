"""LabelWidget: a person answers jobs one at a time, for the human-labelling broker.

Needs the ``notebook`` extra (ipywidgets), imported when the widget is first shown.  The queue of
items and the answers are plain Python state (usable and testable without a kernel); the widget
only renders the current item (escaped, newlines kept), one button per label, an optional free-text
box, and "3 of 10 labelled".  Each answer calls ``on_answer(key, answer)``; the broker that owns
the widget turns it into the job's result.  Items may be added from any thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from bfnb.display.html import el, text_block

__all__ = ["LabelWidget", "answer_in_widget"]

OnAnswer = Callable[[str, str], None]


class LabelWidget:
    """``LabelWidget(["good", "bad"], on_answer=fn)``; :meth:`add` items, click (or :meth:`answer`)."""

    def __init__(
        self,
        labels: Sequence[str],
        *,
        on_answer: OnAnswer | None = None,
        allow_text: bool = False,
        title: str | None = None,
        max_chars: int = 5_000,
    ) -> None:
        if not labels and not allow_text:
            raise ValueError("a LabelWidget needs labels, or allow_text=True for free-text answers")
        self.labels = [str(x) for x in labels]
        self.on_answer = on_answer
        self.allow_text = allow_text
        self.title = title
        self.max_chars = max_chars
        self.answers: dict[str, str] = {}
        self._queue: deque[tuple[str, str]] = deque()
        self._lock = threading.Lock()
        self._widget: Any = None
        self._parts: dict[str, Any] = {}
        self.error: str | None = None

    # --- state (no kernel needed) ------------------------------------------------------------

    def add(self, key: str, text: str) -> None:
        """Queue one item to label (its key is given back with the answer)."""
        with self._lock:
            self._queue.append((str(key), str(text)))
        self._render()

    @property
    def current(self) -> tuple[str, str] | None:
        """The (key, text) being shown, or None when everything is labelled."""
        with self._lock:
            return self._queue[0] if self._queue else None

    @property
    def total(self) -> int:
        return len(self.answers) + len(self._queue)

    @property
    def progress_text(self) -> str:
        return f"{len(self.answers):,} of {self.total:,} labelled"

    def answer(self, value: str) -> str | None:
        """Answer the current item with ``value`` (what a click does); returns the item's key."""
        value = str(value)
        if value not in self.labels and not self.allow_text:
            raise ValueError(f"{value!r} is not one of the labels {self.labels}")
        with self._lock:
            if not self._queue:
                return None
            key, _ = self._queue.popleft()
            self.answers[key] = value
        self.error = None
        if self.on_answer is not None:
            try:
                self.on_answer(key, value)
            except Exception as err:  # shown in the widget; the next item stays answerable
                self.error = f"on_answer failed for {key!r}: {type(err).__name__}: {err}"
        self._render()
        return key

    # --- view ---------------------------------------------------------------------------------

    @property
    def widget(self) -> Any:
        """The ipywidgets ``VBox`` (built on first use)."""
        if self._widget is None:
            self._build()
        return self._widget

    def _build(self) -> None:
        import ipywidgets as w

        p = self._parts
        p["title"] = w.HTML(el("b", self.title) if self.title else "")
        p["progress"] = w.Label()
        p["item"] = w.HTML()
        buttons = []
        for label in self.labels:
            b = w.Button(description=label, layout=w.Layout(width="auto"))
            b.on_click(lambda _b, v=label: self.answer(v))
            buttons.append(b)
        p["buttons"] = buttons
        kids = [p["title"], p["progress"], p["item"], w.HBox(buttons)]
        if self.allow_text:
            p["text"] = w.Text(placeholder="your answer")
            submit = w.Button(description="submit", icon="check", layout=w.Layout(width="auto"))
            submit.on_click(lambda _b: self._submit_text())
            kids.append(w.HBox([p["text"], submit]))
        p["error"] = w.HTML()
        kids.append(p["error"])
        self._widget = w.VBox(kids)
        self._render()

    def _submit_text(self) -> None:
        text = self._parts["text"].value.strip()
        if text:
            self._parts["text"].value = ""
            self.answer(text)

    def _render(self) -> None:
        if self._widget is None:
            return
        p = self._parts
        cur = self.current
        p["progress"].value = self.progress_text
        if cur is None:
            p["item"].value = el("div", "nothing left to label", style="opacity:.7")
        else:
            key, text = cur
            p["item"].value = el(
                "div",
                el("div", key, style="opacity:.6;font-size:90%"),
                text_block(text, max_chars=self.max_chars),
                style="white-space:pre-wrap;border-left:3px solid var(--jp-brand-color1,#1976d2);padding:4px 8px",
            )
        for b in p["buttons"]:
            b.disabled = cur is None
        p["error"].value = el("div", self.error, style="color:var(--jp-error-color1,#d32f2f)") if self.error else ""

    def __repr__(self) -> str:
        return f"LabelWidget(labels={self.labels!r}, {self.progress_text})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle


_shown: dict[str, LabelWidget] = {}


def answer_in_widget(title: str, labels: list[str], allow_text: bool, jobs: list[Any], on_record: Any) -> None:
    """The human broker's answerer in Jupyter: show (or extend) a label widget for ``jobs``.

    Registered by the notebook layer (``bfnb.brokers.human_broker.set_answerer``); each click becomes the
    job's record through ``on_record`` (the ledger) at once, so the next run picks it up.
    """
    from bfnb.brokers.human_broker import human_record

    from . import in_kernel

    if not in_kernel():
        return  # nobody can click: entries stay pending until a labeller or a notebook answers
    widget = _shown.get(title)
    fresh = widget is None or widget.current is None
    if fresh:
        pending: dict[str, Any] = {}

        def on_answer(key: str, answer: str) -> None:
            job = pending.get(key)
            if job is not None:
                on_record(human_record(job, answer))

        widget = LabelWidget(labels, on_answer=on_answer, allow_text=allow_text, title=title)
        widget._bfnb_jobs = pending  # type: ignore[attr-defined]
        _shown[title] = widget
    assert widget is not None
    for job in jobs:
        if job.key not in widget.answers and job.key not in widget._bfnb_jobs:  # type: ignore[attr-defined]
            widget._bfnb_jobs[job.key] = job  # type: ignore[attr-defined]
            widget.add(job.key, job.request["question"])
    if fresh:
        from IPython.display import display

        display(widget)
