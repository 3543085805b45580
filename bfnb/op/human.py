"""AskHuman: a person labels entries, and the answers are cached in the ledger like any call.

Each entry's question (a template filled from its fields) and the allowed labels form the request;
its content key is looked up in the project's ledger, so an item labelled once is never asked
again, in this kernel or the next.  Who answers:

* ``labeller=`` a function ``(question, labels) -> answer``: called for each new item during the
  run (scripts, tests, a rule, another model);
* otherwise, in Jupyter, a labelling widget: the run does not wait (the kernel must stay free for
  the clicks); unanswered entries are ``status="pending"`` and each click is written to the ledger
  at once, so running the cell again picks the answers up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ..keys import request_key
from ..ledger.records import CallRecord, Status
from ..project import current_project, default_project
from .checkpoint import Persisted
from .base import Op, RunContext
from .llm import active_mask, merge_rows, status_fields
from .prompts import PromptMaker, render_prompts

__all__ = ["AskHuman"]

_widgets: dict[str, Any] = {}


def _human_record(key: str, request: dict[str, Any], answer: str, origin: dict[str, Any]) -> CallRecord:
    now = time.time()
    return CallRecord(key=key, status=Status.DONE, kind="human", provider="human", model="human",
                      request=request, response={"label": answer}, t_sent=now, t_done=now, origin=origin)


class AskHuman(Persisted, Op):
    """Ask a person to label each entry: ``AskHuman("Is this poem about {keyword}?", ["yes", "no"])``."""

    kind = "broker"

    def __init__(
        self,
        question: str | PromptMaker,
        labels: Sequence[str] = ("good", "bad"),
        *,
        output_key: str = "label",
        allow_text: bool = False,
        labeller: Callable[[str, list[str]], str] | None = None,
        status_key: str = "status",
        error_key: str = "error",
    ) -> None:
        self.maker = PromptMaker.from_prompt(question)
        self.labels = [str(x) for x in labels]
        self.output_key, self.allow_text, self.labeller = output_key, allow_text, labeller
        self.status_key, self.error_key = status_key, error_key
        self._project = current_project()

    def display_name(self) -> str:
        return "AskHuman"

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        b = inputs[0]
        mask = active_mask(b, self.status_key)
        rows = b[mask] if not mask.all() else b
        questions = render_prompts(self.maker, rows, self)
        requests = [{"question": q, "labels": self.labels, "allow_text": self.allow_text} for q in questions]
        keys = [request_key("human", r, kind="human") for r in requests]
        ledger = (ctx.project or self._project or default_project()).ledger
        found = {k: r for k, r in zip(keys, ledger.get_many(keys), strict=True) if r is not None and r.get("status") == Status.DONE}
        missing = {k: (q, r, str(ix)) for k, q, r, ix in zip(keys, questions, requests, rows.index, strict=True) if k not in found}
        sent = 0
        if missing and ctx.dispatch_brokers:
            if self.labeller is not None:
                for k, (q, r, ix) in missing.items():
                    answer = self.labeller(q, list(self.labels))
                    rec = _human_record(k, r, str(answer), {"op": self.label(), "idx": ix})
                    ledger.append(rec)
                    found[k] = rec.to_dict()
                    sent += 1
            else:
                self._show_widget(ledger, missing)
        records = [found.get(k) for k in keys]
        status, errors = status_fields(records)
        answers = [r["response"]["label"] if r else None for r in records]
        ctx.add_stat("calls_sent", sent)
        ctx.add_stat("calls_cached", sum(1 for k in keys if k in found) - sent)
        ctx.add_stat("calls_pending", sum(1 for r in records if r is None))
        ctx.stats.setdefault("cost_usd", 0.0)
        if any(r is None for r in records):
            ctx.incomplete = True
        return [merge_rows(b, mask, {self.output_key: answers, self.status_key: status, self.error_key: errors})]

    def _show_widget(self, ledger: Any, missing: dict[str, tuple[str, dict[str, Any], str]]) -> None:
        """Show (or extend) the labelling widget; each answer goes straight to the ledger."""
        from ..widgets import LabelWidget, in_kernel

        if not in_kernel():
            return  # nobody can click: entries stay pending until a labeller or a notebook answers
        wid_key = f"{id(ledger)}:{self.label()}"
        widget = _widgets.get(wid_key)
        fresh = widget is None or widget.current is None
        if fresh:
            requests = {k: (r, ix) for k, (_, r, ix) in missing.items()}

            def on_answer(key: str, answer: str) -> None:
                req, ix = requests.get(key, ({}, ""))
                ledger.append(_human_record(key, req, answer, {"op": self.label(), "idx": ix}))

            widget = LabelWidget(self.labels, on_answer=on_answer, allow_text=self.allow_text, title=self.label())
            widget._bfnb_requests = requests
            _widgets[wid_key] = widget
        for k, (q, r, ix) in missing.items():
            if k not in widget.answers:
                widget._bfnb_requests[k] = (r, ix)
                widget.add(k, q)
        if fresh:
            from IPython.display import display

            display(widget)
