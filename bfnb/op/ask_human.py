"""AskHuman: a person labels entries, and the answers are cached in the ledger like any call.

Each entry's question (a template filled from its fields) and the allowed labels form the request;
it goes through the call client like every other broker call, to a
:class:`~bfnb.brokers.human_broker.HumanBroker`, so an item labelled once is never asked again, in this
kernel or the next.  Who answers:

* ``labeller=`` a function ``(question, labels) -> answer``: called for each new item during the
  run (scripts, tests, a rule, another model);
* otherwise, in Jupyter, a labelling widget (the notebook layer registers it with the human
  broker): the run does not wait (the kernel must stay free for the clicks); unanswered entries are
  ``status="pending"`` and each click is written to the ledger at once, so running the cell again
  picks the answers up.  This module imports no widget and no IPython.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ..calls import Calls, Endpoint
from ..ledger.records import Status
from ..project import current_project
from .broker_op import BrokerOp
from .op import RunContext
from .prompts import PromptMaker, render_prompts

__all__ = ["AskHuman"]


class AskHuman(BrokerOp):
    """Ask a person to label each entry: ``AskHuman("Is this poem about {keyword}?", ["yes", "no"])``."""

    call_kind = "human"

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
        self._broker: Any = None

    def display_name(self) -> str:
        return "AskHuman"

    def endpoint(self, ctx: RunContext | None = None) -> Endpoint:
        """A person: the same answers whoever labels (a labeller or a widget)."""
        if self._broker is None:
            from ..brokers.human_broker import HumanBroker

            self._broker = HumanBroker(self.labeller, title=self.label())
        return Endpoint("human", "human", "", "human", broker=self._broker)

    def extra_fingerprint(self) -> str:
        return ""

    def requests(self, rows: pd.DataFrame, endpoint: Endpoint) -> list[dict[str, Any]]:
        questions = render_prompts(self.maker, rows, self)
        return [{"question": q, "labels": self.labels, "allow_text": self.allow_text} for q in questions]

    def read(self, rows: pd.DataFrame, calls: Calls) -> dict[str, list[Any]]:
        answers = [r.response["label"] if r is not None and r.status == Status.DONE and r.response else None
                   for r in calls.records]  # fmt: skip
        return {self.output_key: answers}
