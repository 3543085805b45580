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
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RETRY",
    "Budget",
    "RateLimits",
    "Retry",
]


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
    timeout_s
        Whole-request timeout of one attempt.
    """

    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: float = 0.5
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"Retry.max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Retry.jitter must be in [0, 1], got {self.jitter}")


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
