"""What a broker has done in its current burst of work: the numbers its snapshot shows.

One :class:`Counters` per broker, written by its :class:`~bfnb.brokers.pool.WorkerPool` (and by a
broker that sends another way, the Batch API one) and read by ``Broker.snapshot()``.  A burst
("session") starts when work arrives at an idle broker and ends when its last run returns; the
counts then stay readable until the next burst resets them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Counters"]


def _errors() -> deque[str]:
    return deque(maxlen=5)


def _buckets() -> deque[list[float]]:
    return deque(maxlen=12)  # [second, requests, tokens]


@dataclass(slots=True)
class Counters:
    """Counts of one burst; ``pending + in_flight + retrying`` is the work left."""

    pending: int = 0  # queued or taken by a worker, not yet on the wire
    in_flight: int = 0  # on the wire
    retrying: int = 0  # waiting for a backoff (or for the budget) to end
    done: int = 0
    cached: int = 0  # answered by the caller's ledger (note_cached)
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True  # False once a call had no known price
    errors: deque[str] = field(default_factory=_errors)
    buckets: deque[list[float]] = field(default_factory=_buckets)
    started_at: float = field(default_factory=time.time)
    open: bool = False  # a burst is in progress (its counts are not reset by new work)

    def reset(self) -> None:
        """Start a new burst: every count back to zero (``open`` is the caller's)."""
        self.pending = self.in_flight = self.retrying = 0
        self.done = self.cached = self.failed = self.input_tokens = self.output_tokens = 0
        self.cost_usd, self.cost_known = 0.0, True
        self.errors = _errors()
        self.buckets = _buckets()
        self.started_at = time.time()

    def add_done(self, input_tokens: int, output_tokens: int, cost: float | None, t_done: float) -> None:
        """One call answered at ``t_done`` (Unix seconds); ``cost`` None: its price is unknown."""
        self.done += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        if cost is None:
            self.cost_known = False
        else:
            self.cost_usd += cost
        self.tick(t_done, input_tokens + output_tokens)

    def add_failed(self, message: str) -> None:
        self.failed += 1
        self.errors.append(message)

    def tick(self, now: float, tokens: int) -> None:
        """Count one request of ``tokens`` in the per-second buckets the rates come from."""
        sec = int(now)
        buckets = self.buckets
        if buckets and buckets[-1][0] == sec:
            b = buckets[-1]
            b[1] += 1
            b[2] += tokens
        else:
            buckets.append([sec, 1, tokens])

    def rates(self, now: float) -> tuple[float, float]:
        """Requests and tokens per second over the last ~10 s of this burst."""
        window = max(1.0, min(10.0, now - self.started_at))
        recent = [b for b in list(self.buckets) if b[0] >= now - window]
        return sum(b[1] for b in recent) / window, sum(b[2] for b in recent) / window
