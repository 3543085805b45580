"""The human broker: a person answers, and the answers are records like any paid call's.

Two ways a person answers a job (``{"question", "labels", "allow_text"}``):

* a ``labeller`` function ``(question, labels) -> answer`` (a script, a test, a rule, another
  model): the broker calls it for each job, one at a time, off the event loop, and the run waits;
* otherwise the registered *answerer* (the notebook layer registers the label widget with
  :func:`set_answerer`): the broker offers the jobs and does not wait (the kernel must stay free for
  the clicks); each answer is written through ``on_record`` when it is given, so the next run
  picks it up from the ledger.  With no answerer (a plain script) the jobs stay unanswered.

The broker never imports a widget or IPython: the UI plugs itself in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ..ledger.records import CallRecord, Status
from .broker import Broker
from .config import RateLimits
from .jobs import Job, OnRecord

__all__ = ["Answerer", "HumanBroker", "human_record", "set_answerer"]

#: ``(title, labels, allow_text, jobs, on_record)``: show the jobs to a person; returns at once
Answerer = Callable[[str, list[str], bool, list[Job], OnRecord], None]

_answerer: Answerer | None = None


def set_answerer(answerer: Answerer | None) -> None:
    """Install who answers human jobs when no labeller is given (the notebook layer: a widget)."""
    global _answerer
    _answerer = answerer


def human_record(job: Job, answer: str) -> CallRecord:
    """The record of a person's answer to ``job`` (free: no tokens, no dollars)."""
    now = time.time()
    return CallRecord(job.key, Status.DONE, "human", "human", "human", job.request, {"label": str(answer)},
                      0, 0, 0.0, 1, None, now, now, False, job.origin)  # fmt: skip


class HumanBroker(Broker):
    """Jobs answered by a person: through ``labeller`` (waits) or the registered answerer (does not)."""

    def __init__(self, labeller: Callable[[str, list[str]], Any] | None = None, *, title: str = "AskHuman") -> None:
        super().__init__(provider="human", model="human", kind="human", limits=RateLimits(concurrency=1),
                         name=f"human {title}", prices=(0.0, 0.0))  # fmt: skip
        self.labeller = labeller
        self.title = title

    @property
    def waits(self) -> bool:
        """True when answers come during the run (a labeller); False: offered to a person, not awaited."""
        return self.labeller is not None

    async def _send(self, job: Job) -> tuple[dict[str, Any], int, int]:
        assert self.labeller is not None
        req = job.request
        answer = await asyncio.to_thread(self.labeller, req["question"], list(req["labels"]))
        return {"label": str(answer)}, 0, 0

    def offer(self, jobs: list[Job], on_record: OnRecord) -> None:
        """Show ``jobs`` to a person through the registered answerer, if any; returns at once."""
        if _answerer is None or not jobs:
            return
        req = jobs[0].request
        _answerer(self.title, list(req["labels"]), bool(req.get("allow_text")), jobs, on_record)
