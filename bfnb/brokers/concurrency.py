"""How many calls a broker keeps in flight when the user set no limit: adaptive, like TCP.

A fixed default is wrong both ways: 64 in flight caps a 200 ms provider at 320 requests/s (a bare
client reaches ~1,200 here), while a local model (ollama, LM Studio) slows down for everyone past
a handful.  So a broker with no user-set limits asks this controller, after every answered call,
how many calls may be in flight.  It works like TCP congestion control and Netflix's
concurrency-limits (Gradient2), self-clocked by completions so it needs no timer:

* **slow start**: +1 per answered call, which doubles the limit every round trip while the pool is
  full (32 → 256 in three round trips: 0.6 s on a 200 ms server).  A textbook +1 per round
  trip (AIMD) would need a minute.  Slow start ends when a round trip's mean latency passes
  ``tolerance`` (1.5) × the fastest seen, or at the first overload;
* **steady state**: once per round trip (``limit`` answers), ``new = limit × gradient +
  √limit`` with ``gradient = clamp(tolerance × base / mean, 0.5, 1)``, smoothed: the limit creeps
  up while latency stays flat, and shrinks in proportion as latency grows (a queue forming at the
  server, or in this client's own event loop);
* **overload** (a 429, a timeout, a 503): the limit halves, at most once per round trip;
* **known rate** (``x-ratelimit-*`` headers, learned by the limiter): Little's law says the calls
  in flight are rate × latency, so the limit stays under ``2 × rpm/60 × latency`` (the limiter
  paces the sends; more workers would only wait);
* it only grows while the pool is at least half used, so a tail of work or a paced limiter does
  not inflate it.

A latency cut is checked once the limit fell by 10 %: if the latency did not fall with it, the
latency was not a queue of this client's making (a busy CPU, a provider that became slower), so
the cut is undone and that latency becomes the base.  The base latency is the fastest round trip seen, allowed to drift up 0.2 % per round trip so a
provider that became slower for good is learnt again (faster drift would let a standing queue
pass for the provider's own latency).  Local providers start at 4 and stay
≤ 16.  Everything is plain arithmetic on the values passed in (and a clock for "once per round
trip" on overload), so tests drive it with a fake clock and made-up latencies.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["AdaptiveConcurrency", "adaptive_for"]

#: (initial, maximum) per provider; local servers share one machine with everything else
_LOCAL = (4, 16)
_PROVIDER_BOUNDS: dict[str, tuple[int, int]] = {"ollama": _LOCAL, "lmstudio": _LOCAL, "vllm": (16, 512)}
_DEFAULT_BOUNDS = (32, 1024)  # 32: the old fixed default was 64; slow start takes it from there


class AdaptiveConcurrency:
    """The limit on calls in flight, adapted from latency, overloads and a known rate."""

    def __init__(
        self,
        *,
        initial: int = 16,
        minimum: int = 1,
        maximum: int = 1024,
        tolerance: float = 1.5,
        smoothing: float = 0.2,
        backoff: float = 0.5,
        drift: float = 0.002,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError(f"need 1 <= minimum <= initial <= maximum, got {minimum}, {initial}, {maximum}")
        self.minimum, self.maximum = minimum, maximum
        self.tolerance, self.smoothing, self.backoff, self.drift = tolerance, smoothing, backoff, drift
        self._clock = clock
        self._limit = float(initial)
        self.slow_start = True
        self.base_latency: float | None = None  # the fastest round trip seen (drifting up slowly)
        self.mean_latency: float | None = None  # of the last complete round trip
        self.rate_cap: int | None = None  # from a known rate (Little's law)
        self.overloads = 0
        self._round_n = 0  # answers in the current round trip
        self._round_sum = 0.0
        self._round_min = math.inf
        self._round_size = initial
        self._round_level = float(initial)  # the limit while this round's calls were sent
        self._round_full = False  # the pool was at least half used during this round
        self._last_cut = -math.inf
        self._shrunk_from: tuple[float, float] | None = None  # (limit, mean latency) before a latency cut
        self.rebaselines = 0

    @property
    def limit(self) -> int:
        """The number of calls that may be in flight now."""
        cap = self.maximum if self.rate_cap is None else min(self.maximum, self.rate_cap)
        return max(self.minimum, min(cap, int(self._limit)))

    # --- what happened ----------------------------------------------------------------------------

    def on_success(self, latency_s: float, in_flight: int | None = None, rpm: float | None = None) -> int:
        """One call answered after ``latency_s``, with ``in_flight`` calls out (itself included).

        ``rpm``: a known requests-per-minute limit (configured or learnt from headers).  Returns the
        new limit.
        """
        busy = in_flight is None or 2 * in_flight >= self.limit
        self._round_full = self._round_full or busy
        self._round_n += 1
        self._round_sum += latency_s
        self._round_min = min(self._round_min, latency_s)
        if self.slow_start and busy:
            self._limit = min(self._limit + 1, float(self.maximum))
        if self._round_n >= self._round_size:
            self._end_round(rpm)
        return self.limit

    def on_overload(self) -> int:
        """A 429, a timeout or a 503: halve the limit (once per round trip) and leave slow start."""
        self.overloads += 1
        self.slow_start = False
        now = self._clock()
        if now - self._last_cut >= (self.base_latency or 0.0):
            self._limit = max(float(self.minimum), min(self._limit, float(self.limit)) * self.backoff)
            self._last_cut = now
        return self.limit

    # --- once per round trip ------------------------------------------------------------------------

    def _end_round(self, rpm: float | None) -> None:
        mean = self._round_sum / self._round_n
        fastest, full = self._round_min, self._round_full
        self._round_n, self._round_sum, self._round_min, self._round_full = 0, 0.0, math.inf, False
        self.mean_latency = mean
        base = fastest if self.base_latency is None else min(self.base_latency * (1 + self.drift), fastest)
        self.base_latency = base
        if rpm:
            # Little's law: in flight = rate x latency; twice that leaves room for latency spikes
            self.rate_cap = max(self.minimum, math.ceil(round(2 * rpm / 60 * mean, 6)) + 1)
        if self.slow_start:
            if mean > self.tolerance * base:
                self.slow_start = False  # a queue is forming: hold here and steer by the gradient
            else:
                self._round_size = max(1, self.limit)
                self._round_level = float(self.limit)
                return
        level, self._round_level = self._round_level, float(self.limit)  # this round's calls were sent at `level`
        if self._shrunk_from is not None and level <= 0.9 * self._shrunk_from[0]:
            before_limit, before_mean = self._shrunk_from
            self._shrunk_from = None
            if level / mean < 0.97 * before_limit / before_mean:
                # fewer calls out and fewer answers per second (Little: rate = in flight / latency):
                # the latency was not a queue that the cut drained (a busy CPU, a slower provider).
                # Take it as the new base and undo the cut.
                self.base_latency = base = max(base, mean / self.tolerance)
                self._limit = max(self._limit, before_limit)
                self.rebaselines += 1
        gradient = max(0.5, min(1.0, self.tolerance * base / mean))
        target = self._limit * gradient + (math.sqrt(self._limit) if full else 0.0)
        new = self._limit * (1 - self.smoothing) + target * self.smoothing
        if new > self._limit and not full:
            new = self._limit  # the pool was not full: no evidence that more would help
        if new < self._limit and self._shrunk_from is None:
            self._shrunk_from = (level, mean)
        elif new >= self._limit:
            self._shrunk_from = None
        self._limit = max(float(self.minimum), min(new, float(self.maximum)))
        self._round_size = max(1, self.limit)

    def __repr__(self) -> str:
        phase = "slow start" if self.slow_start else "steady"
        return f"<AdaptiveConcurrency {self.limit} ({phase}, base {self.base_latency}, mean {self.mean_latency})>"


def adaptive_for(provider: str) -> AdaptiveConcurrency:
    """The controller a broker for ``provider`` starts with (local servers: 4, at most 16)."""
    initial, maximum = _PROVIDER_BOUNDS.get(provider, _DEFAULT_BOUNDS)
    return AdaptiveConcurrency(initial=initial, maximum=maximum)
