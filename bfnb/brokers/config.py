"""The knobs of a broker, as small frozen value objects with named defaults.

Written the way httpx writes ``Limits`` and ``Timeout``: a caller builds one value, passes it to a
broker (or to :func:`bfnb.brokers.get_broker`), and nothing deep inside reads a global.  Values are
frozen and hashable, so two brokers built with equal knobs can be recognised as equal, and
``dataclasses.replace`` derives a variant without touching the original.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "Budget",
    "RateLimits",
    "Retry",
    "Timeouts",
]

DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20  # a chat or embedding answer is kilobytes; 64 MiB is a runaway body


@dataclass(frozen=True, slots=True)
class RateLimits:
    """How fast a broker may send.

    Parameters
    ----------
    rpm, tpm
        Requests and tokens per minute the provider allows; ``None`` means unknown (the limiter then
        learns limits from ``x-ratelimit-*`` response headers, and otherwise sends freely).
    concurrency
        Most requests in flight at once (the size of the broker's worker pool).
    headroom
        Fraction of ``rpm``/``tpm`` actually used, so the provider's 60 s window is never exceeded.
    """

    rpm: float | None = None
    tpm: float | None = None
    concurrency: int = 64
    headroom: float = 0.97

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"RateLimits.concurrency must be >= 1, got {self.concurrency}")
        if not 0 < self.headroom <= 1:
            raise ValueError(f"RateLimits.headroom must be in (0, 1], got {self.headroom}")
        for name in ("rpm", "tpm"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ValueError(f"RateLimits.{name} must be positive or None, got {v}")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long a call may take before it is given up, in seconds.

    A server that accepts a connection and never answers, or drips its answer a byte at a time,
    must cost a bounded time, not the ~12 minutes six unbounded attempts would.

    Parameters
    ----------
    connect
        Longest wait to open a connection.
    read
        Longest silence while waiting for (the next bytes of) an answer.
    call_deadline
        Longest time one call may take across all of its attempts and the waits between them; an
        attempt in progress when it passes is cut off, and the call is recorded as failed.
    """

    connect: float = 10.0
    read: float = 60.0
    call_deadline: float = 150.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "call_deadline"):
            v = getattr(self, name)
            if not v > 0:
                raise ValueError(f"Timeouts.{name} must be > 0 seconds, got {v}")


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True, slots=True)
class Retry:
    """When and how often a failed call is tried again.

    Parameters
    ----------
    max_attempts
        Attempts per call, the first included; after the last one the call is recorded as failed.
    backoff_base_s, backoff_max_s
        Exponential backoff: ``base * 2**(attempt-1)``, capped at ``backoff_max_s``.
    jitter
        Fraction of the delay drawn at random (0 = none, 0.5 = delay × U(0.5, 1.0)).
    max_wait_s
        Longest wait a provider's ``Retry-After`` may ask for.  A longer one (an hour, a day: a
        spent quota) fails the call at once, naming the wait, instead of holding the run.
    timeouts
        :class:`Timeouts`: connect, read, and the deadline of a whole call across its attempts.
    max_response_bytes
        Largest answer read; a longer (or endless) body fails the call, unretried.
    timeout_s
        Optional cap on one attempt's whole time (``None``: only ``timeouts`` apply).
    """

    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: float = 0.5
    max_wait_s: float = 60.0
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"Retry.max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Retry.jitter must be in [0, 1], got {self.jitter}")
        if self.max_wait_s < 0:
            raise ValueError(f"Retry.max_wait_s must be >= 0, got {self.max_wait_s}")
        if self.max_response_bytes < 1:
            raise ValueError(f"Retry.max_response_bytes must be >= 1, got {self.max_response_bytes}")
        if not isinstance(self.timeouts, Timeouts):
            raise TypeError(f"Retry.timeouts must be a bfnb.Timeouts, got {type(self.timeouts).__name__}")


@dataclass(frozen=True, slots=True)
class Budget:
    """A spending cap in US dollars for one run; ``None`` means no cap."""

    usd: float | None = None

    def __post_init__(self) -> None:
        if self.usd is not None and self.usd < 0:
            raise ValueError(f"Budget.usd must be >= 0 or None, got {self.usd}")


DEFAULT_RATE_LIMITS = RateLimits()
DEFAULT_RETRY = Retry()
DEFAULT_BUDGET = Budget()
