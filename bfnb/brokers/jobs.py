"""The data a broker works on: jobs, their queue entries, runs and results.

A :class:`Job` is one expensive call as the call client hands it over (content key, provider
request body, token estimates).  Inside a broker each distinct key becomes one :class:`Entry` that
moves through the states below, shared by every :class:`Run` (one ``Broker.run`` call) waiting on
that key.  A run ends with a :class:`RunResult`: records by key, plus the keys never sent.
Kept apart from the broker and its worker pool so that both, and packing brokers, read one set of
types without importing each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..keys import SECRET_FIELDS
from ..ledger.records import CallRecord

if TYPE_CHECKING:
    from .budget import BudgetTracker

__all__ = [
    "BACKOFF",
    "DROPPED",
    "QUEUED",
    "SENDING",
    "TAKEN",
    "Entry",
    "Gate",
    "Job",
    "OnRecord",
    "Run",
    "RunResult",
    "public_request",
]

OnRecord = Callable[[CallRecord], None]
#: ``gate(key) -> bool``, asked right before a job goes out: False leaves it unsent (``RunResult.unsent``)
Gate = Callable[[str], bool]

#: entry states: waiting in the queue, taken by a worker, on the wire, waiting to retry, finished
QUEUED, TAKEN, SENDING, BACKOFF, DROPPED = range(5)


@dataclass(slots=True)
class Job:
    """One expensive call: ``request`` is the provider request body, ``key`` its content key.

    ``est_input_tokens`` paces the TPM limiter; ``worst_input_tokens`` (the request's UTF-8 size, an
    upper bound) and ``max_output_tokens`` are what a budget reserves before the call is sent.
    """

    key: str
    kind: str
    request: dict[str, Any]
    est_input_tokens: int = 0
    max_output_tokens: int = 0
    op: str = ""
    origin: dict[str, Any] = field(default_factory=dict)
    worst_input_tokens: int = 0


class RunResult(dict[str, CallRecord]):
    """Records by key of one run; ``unsent`` lists keys never sent, ``stopped`` says why."""

    def __init__(self) -> None:
        super().__init__()
        self.unsent: list[str] = []
        self.stopped: str | None = None  # None | "cancelled" | "budget" | "error"


class Run:
    """One ``Broker.run`` call: the keys it waits on, where its records go, its budget."""

    __slots__ = ("budget", "done", "error", "failed", "gate", "on_record", "results", "waiting")

    def __init__(
        self, on_record: OnRecord, budget: BudgetTracker | None, done: asyncio.Future[None], gate: Gate | None = None
    ) -> None:
        self.on_record, self.budget, self.done, self.gate = on_record, budget, done, gate
        self.results = RunResult()
        self.waiting: set[str] = set()
        self.failed: dict[str, Job] = {}
        self.error: BaseException | None = None


class Entry:
    """One distinct key inside a broker: its job, the runs waiting on it, its attempts and reservation."""

    __slots__ = ("attempts", "budget", "handle", "job", "reserved_usd", "runs", "state", "t_sent")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.runs: list[Run] = []
        self.state = QUEUED
        self.attempts = 0
        self.t_sent = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.reserved_usd: float | None = None  # None: not yet checked against a budget
        self.budget: BudgetTracker | None = None  # the budget holding its reservation


def public_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request as stored in a record: without fields that may carry credentials."""
    if SECRET_FIELDS.isdisjoint(request):
        return request
    return {k: v for k, v in request.items() if k not in SECRET_FIELDS}
