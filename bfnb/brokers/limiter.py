"""Client-side pacing under a provider's RPM and TPM limits.

Sending freely and retrying on 429 overshoots a limit and wastes most requests (measured: 78,263
answers 429 for 14,773 successes); pacing at 95 % of the limit gets 94.5 % of it with no 429 at
all.  So every attempt first takes an admission time from this limiter.

The pacer is a GCRA ("virtual scheduling") token bucket per dimension, refilled continuously at
``headroom × limit``: each ``acquire`` computes its own admission time from a theoretical arrival
time and sleeps until then, so waiters are served in order with one timer each and no lock.  The
burst allowance is one second of the paced rate, but never more than ``(1-headroom) × limit``, so
no 60 s window (the provider's) ever sees more than the limit.  A TPM admission reserves the
estimated input plus ``max_tokens`` (what OpenAI counts at admission); :meth:`settle` gives back or
charges the difference once real usage is known.  Response headers teach it: a smaller
``x-ratelimit-limit-*`` than configured replaces it, ``remaining == 0`` pauses admissions for one
unit of the bucket (``reset / limit``: ``reset`` is the time to refill it all), and a 429's
``Retry-After`` pauses every admission until then.  With no limits known, ``acquire`` is a clock
read and a comparison.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from .config import RateLimits
from .retry import header_number, parse_duration

__all__ = ["Limiter"]


class _Pace:
    """One GCRA dimension: ``per_minute × headroom`` units per second, with a small burst."""

    __slots__ = ("burst", "per_minute", "rate", "tat", "tau")

    def __init__(self, per_minute: float, headroom: float, burst_s: float) -> None:
        self.per_minute = per_minute
        self.rate = per_minute * headroom / 60.0
        self.burst = max(1.0, min(self.rate * burst_s, per_minute * (1.0 - headroom)))
        self.tau = self.burst / self.rate  # how far ahead of real time the schedule may run
        self.tat = 0.0  # theoretical arrival time: the bucket is full again from this time on

    def earliest(self, units: float) -> float:
        """When ``units`` fit: at once within the burst; more than the burst waits for a full bucket."""
        return self.tat - self.tau + min(units / self.rate, self.tau)

    def take(self, t: float, units: float) -> None:
        self.tat = max(self.tat, t) + units / self.rate


class Limiter:
    """RPM/TPM pacer shared by every attempt of one broker (or of several sharing a key).

    Parameters
    ----------
    limits
        The configured :class:`RateLimits` (``rpm``/``tpm`` ``None`` = unknown).
    burst_s
        Burst allowance in seconds of the paced rate.
    learn
        Whether ``x-ratelimit-limit-*`` headers may lower the configured limits.
    clock
        Monotonic seconds (tests pass a fake clock to check the schedule without sleeping).
    """

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        burst_s: float = 1.0,
        learn: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits or RateLimits()
        self._clock = clock
        self._burst_s = burst_s
        self._learn = learn
        self._req: _Pace | None = None
        self._tok: _Pace | None = None
        self._paused_until = 0.0
        self.pauses = 0  # number of pauses from 429s or exhausted headers (for the panel and tests)
        self.learned: dict[str, float] = {}
        self._apply(self._limits.rpm, self._limits.tpm)

    # --- configuration ------------------------------------------------------------------------

    def _apply(self, rpm: float | None, tpm: float | None) -> None:
        h = self._limits.headroom
        old_req, old_tok = self._req, self._tok
        self._req = _Pace(rpm, h, self._burst_s) if rpm else None
        self._tok = _Pace(tpm, h, self._burst_s) if tpm else None
        if old_req is not None and self._req is not None:
            self._req.tat = old_req.tat
        if old_tok is not None and self._tok is not None:
            self._tok.tat = old_tok.tat

    def configure(self, limits: RateLimits) -> None:
        """Use new limits from now on (learned limits still apply if smaller)."""
        self._limits = limits
        self._apply(self._effective("rpm"), self._effective("tpm"))

    def _effective(self, name: str) -> float | None:
        configured: float | None = getattr(self._limits, name)
        learned: float | None = self.learned.get(name)
        if configured is None:
            return learned
        return configured if learned is None else min(configured, learned)

    @property
    def limits(self) -> RateLimits:
        return self._limits

    @property
    def rpm(self) -> float | None:
        """The requests-per-minute limit in force (configured or learned)."""
        return self._req.per_minute if self._req else None

    @property
    def tpm(self) -> float | None:
        return self._tok.per_minute if self._tok else None

    @property
    def paused_until(self) -> float:
        """Clock time before which nothing is admitted."""
        return self._paused_until

    # --- admission ----------------------------------------------------------------------------

    async def acquire(self, tokens: int = 0) -> int:
        """Wait until one request of ``tokens`` tokens may be sent; returns the tokens reserved."""
        now = self._clock()
        if self._req is None and self._tok is None and now >= self._paused_until:
            return tokens
        while True:
            t = self.reserve(tokens, now)
            if t <= now:
                return tokens
            await asyncio.sleep(t - now)
            now = self._clock()
            if now >= self._paused_until:  # a pause that began while we slept takes a new slot
                return tokens

    def reserve(self, tokens: int, now: float) -> float:
        """Book the next admission of one request of ``tokens`` tokens; returns its time."""
        req, tok = self._req, self._tok
        t = max(now, self._paused_until)
        if req is not None:
            t = max(t, req.earliest(1.0))
        if tok is not None and tokens > 0:
            t = max(t, tok.earliest(float(tokens)))
        if req is not None:
            req.take(t, 1.0)
        if tok is not None and tokens > 0:
            tok.take(t, float(tokens))
        return t

    def settle(self, reserved: int, actual: int) -> None:
        """Give back (or charge) the difference between reserved and actually used tokens."""
        tok = self._tok
        if tok is not None and reserved != actual:
            tok.tat -= (reserved - actual) / tok.rate

    def pause(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (a 429's Retry-After), then resume from an empty bucket."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if until <= self._paused_until:
            return
        self._paused_until = until
        self.pauses += 1
        for pace in (self._req, self._tok):
            if pace is not None:
                pace.tat = max(pace.tat, until + pace.tau)

    # --- learning from headers ----------------------------------------------------------------

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Learn from ``x-ratelimit-*`` response headers (cheap when they are absent)."""
        if not headers:
            return
        rem_req = headers.get("x-ratelimit-remaining-requests")
        rem_tok = headers.get("x-ratelimit-remaining-tokens")
        if rem_req is None and rem_tok is None:
            return
        if self._learn:
            changed = False
            for name, header in (("rpm", "x-ratelimit-limit-requests"), ("tpm", "x-ratelimit-limit-tokens")):
                value = header_number(headers.get(header))
                if value and value > 0 and self.learned.get(name) != value:
                    self.learned[name] = value
                    changed = True
            if changed:
                self._apply(self._effective("rpm"), self._effective("tpm"))
        for remaining, limit, reset in (
            (rem_req, "x-ratelimit-limit-requests", "x-ratelimit-reset-requests"),
            (rem_tok, "x-ratelimit-limit-tokens", "x-ratelimit-reset-tokens"),
        ):
            n = header_number(remaining)
            if n is not None and n < 1:
                # reset-* is the time until the bucket is full again; wait only for one unit of it
                wait = parse_duration(headers.get(reset))
                total = header_number(headers.get(limit))
                if wait:
                    self.pause(wait / total if total and total > 1 else wait)
