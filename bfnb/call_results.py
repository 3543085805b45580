"""What one fetch of the call client gives back, and what a run remembers of it.

:class:`Calls` is what an op reads (one record, or None, per request, with the counts a run
report shows); :class:`Arrivals` lets a look at a running graph see records as they arrive;
:class:`CallLogEntry` is what ``g.explain()`` reads.  They are plain values: the path that fills
them is :mod:`bfnb.calls`, which also re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .brokers.pricing import total_usd
from .ledger.records import CallRecord, Status

__all__ = ["Arrivals", "CallLogEntry", "Calls"]


@dataclass
class Calls:
    """The outcome of one :meth:`CallClient.fetch`, aligned with its requests."""

    keys: list[str]
    records: list[CallRecord | None]
    sent: int = 0
    cached: int = 0
    failed: int = 0
    pending: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    #: distinct calls left unsent by a run without dispatch, and their worst-case dollars (None: unknown price)
    unsent: int = 0
    unsent_usd_max: float | None = 0.0

    @classmethod
    def of(cls, keys: list[str], records: list[CallRecord | None], fresh: dict[str, CallRecord], cached: int) -> Calls:
        """A fetch's outcome: ``records`` per key; ``fresh`` those it paid for (their tokens and cost)."""
        calls = cls(keys, records, len(fresh), cached)
        for rec in records:
            if rec is None:
                calls.pending += 1
            elif rec.status != Status.DONE:
                calls.failed += 1
        for rec in fresh.values():
            calls.input_tokens += rec.input_tokens
            calls.output_tokens += rec.output_tokens
        calls.cost_usd = total_usd(r.cost_usd for r in fresh.values() if r.status == Status.DONE)
        return calls

    def status(self) -> list[str]:
        """Per request: ``"done"``, ``"failed"`` or ``"pending"`` (not answered yet)."""
        return ["pending" if r is None else ("done" if r.status == Status.DONE else "failed") for r in self.records]

    def errors(self) -> list[str | None]:
        """Per request: the error of a failed call, else None."""
        return [None if r is None or r.status == Status.DONE else (r.error or "failed") for r in self.records]

    def merge_counts(self, other: Calls) -> None:
        """Add ``other``'s counts to these (an op that fetched from several endpoints)."""
        self.sent += other.sent
        self.cached += other.cached
        self.failed += other.failed
        self.pending += other.pending
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        self.unsent += other.unsent
        self.unsent_usd_max = (
            None
            if self.unsent_usd_max is None or other.unsent_usd_max is None
            else (self.unsent_usd_max + other.unsent_usd_max)
        )

    def add_to(self, ctx: Any) -> None:
        """Add these calls to a node's stats (a :class:`~bfnb.op.op.RunContext`)."""
        ctx.add_stat("calls_sent", self.sent)
        ctx.add_stat("calls_cached", self.cached)
        ctx.add_stat("calls_failed", self.failed)
        ctx.add_stat("calls_pending", self.pending)
        ctx.add_stat("input_tokens", self.input_tokens)
        ctx.add_stat("output_tokens", self.output_tokens)
        if self.cost_usd is None or ctx.stats.get("cost_usd", 0.0) is None:
            ctx.stats["cost_usd"] = None
        else:
            ctx.add_stat("cost_usd", self.cost_usd)
        if self.unsent:
            ctx.add_stat("pending_calls", self.unsent)
            if self.unsent_usd_max is None or ctx.stats.get("pending_usd_max", 0.0) is None:
                ctx.stats["pending_usd_max"] = None
            else:
                ctx.add_stat("pending_usd_max", self.unsent_usd_max)
        if self.failed or self.pending:
            ctx.incomplete = True


@dataclass
class Arrivals:
    """Records of one :meth:`CallClient.fetch` as they arrive, for a look while the calls go on.

    ``fetch(..., arrivals=a)`` sets ``a.keys`` (one per request) before anything is sent, puts the
    records found in the ledger in ``a.records`` at once, and each answer the moment it is written
    to the ledger (on the broker's loop thread).  Readers take a ``dict(a.records)`` snapshot;
    nothing here is ever sent or paid for by reading it (``bfnb.executor.partial``).
    """

    keys: list[str] = field(default_factory=list)
    records: dict[str, CallRecord] = field(default_factory=dict)


#: what a broker op asked for in one run, read by ``g.explain()``
@dataclass
class CallLogEntry:
    op: str
    idxs: list[str]
    keys: list[str]
    sent: set[str]
    ledger: Any
    kind: str
