"""One rate limit and one concurrency budget for every Ray worker calling the same endpoint.

Each worker's broker paces its own calls (:class:`~bfnb.brokers.limiter.Limiter`), which is right
for one process and wrong for eight: eight workers each pacing at the provider's RPM send eight
times it.  So on Ray the limit lives in one place, a :class:`PermitBank` (inside the cluster hub
actor, :mod:`.cluster_hub`), and workers take *permits* from it in blocks: a worker asks for what
it expects to spend in the next fraction of a second, spends the block locally at no cost per
call, and asks again.  A block not spent within ``lease_s`` is given back.  This is plain
arithmetic with an injectable clock, so it is tested without Ray or sleeping.

* **RPM / TPM**: one token bucket per dimension, refilled at ``headroom × limit`` per minute and
  holding at most one ``burst_s`` of that (never more than ``(1 - headroom) × limit``), as the
  local limiter paces.  A grant takes permits out of the bucket; returned permits go back in.  A
  permit may be spent up to ``lease_s`` after it was granted, so a 60 s window sees at most
  ``headroom × (60 + burst_s + lease_s)`` seconds of the rate: with the defaults (0.97, ≤ 1 s,
  0.5 s) that is under the limit.  A bank starts *empty* (no burst in its first second): the
  key's minute may already be spent by an earlier run or another driver, and a cluster that
  bursts into an exhausted limit gets one 429 per worker call.
* **Concurrency**: one budget of calls in flight, split between the workers that asked within the
  last ``3 × lease_s``, in proportion to the work each has waiting (each gets at least 1).  With
  no limits set by the user the budget is an
  :class:`~bfnb.brokers.concurrency.AdaptiveConcurrency` fed with every worker's latencies and
  overloads (429s, timeouts, 503s), so the cluster grows and shrinks as one broker would.
* **Pauses**: a 429's ``Retry-After`` seen by one worker pauses every worker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ...brokers.concurrency import AdaptiveConcurrency
from ...brokers.config import RateLimits

__all__ = ["Ask", "BankConfig", "Grant", "PermitBank"]

UNLIMITED = -1  #: a grant of this many permits: the dimension has no limit
#: shortest wait a worker is told when nothing is left: a few permits gather meanwhile, so
#: workers under a tight limit ask tens of times a second, not once per permit
MIN_WAIT_S = 0.02


@dataclass(frozen=True, slots=True)
class BankConfig:
    """What a bank enforces: the broker's limits, and whether its concurrency adapts.

    ``initial``/``maximum`` bound the adaptive concurrency (as ``adaptive_for(provider)`` would).
    """

    limits: RateLimits = field(default_factory=RateLimits)
    adaptive: bool = False
    initial: int = 32
    maximum: int = 1024


@dataclass(frozen=True, slots=True)
class Ask:
    """What a worker asks for, and what it saw since it last asked.

    ``requests``/``tokens``: permits wanted now (``need_tokens``: the next call's size, which
    must fit whole).  ``returned_*``: unspent permits of an expired block.  ``latencies`` and
    ``overloads``: answered calls' seconds and 429/timeout/503 counts, for the adaptive
    concurrency.  ``demand``: calls waiting or in flight at this worker; ``in_flight``: on the wire.
    ``pause_s``: a ``Retry-After`` the worker got (pauses every worker).
    """

    requests: int = 0
    tokens: int = 0
    need_tokens: int = 0
    returned_requests: int = 0
    returned_tokens: int = 0
    latencies: tuple[float, ...] = ()
    overloads: int = 0
    demand: int = 0
    in_flight: int = 0
    pause_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Grant:
    """A block of permits (``UNLIMITED``: no limit on that dimension) and the worker's share.

    Spend the permits within ``lease_s``; when nothing was granted, ask again after ``wait_s``.
    ``concurrency`` is how many calls this worker may have in flight; ``pause_s`` how long every
    worker sends nothing (a 429's ``Retry-After``); ``control`` is "running", "paused" or
    "cancelled" (the driver's buttons).
    """

    requests: int
    tokens: int
    lease_s: float
    wait_s: float
    concurrency: int
    rpm: float | None = None
    tpm: float | None = None
    pause_s: float = 0.0
    control: str = "running"


class _Bucket:
    """``per_minute × headroom`` permits a minute, holding at most ``burst`` (it starts empty)."""

    __slots__ = ("burst", "level", "per_minute", "rate", "t")

    def __init__(self, per_minute: float, headroom: float, burst_s: float, now: float) -> None:
        self.per_minute = per_minute
        self.rate = per_minute * headroom / 60.0
        self.burst = max(1.0, min(self.rate * burst_s, per_minute * (1.0 - headroom)))
        self.level, self.t = 0.0, now

    def refill(self, now: float) -> None:
        if now > self.t:
            self.level = min(self.burst, self.level + (now - self.t) * self.rate)
            self.t = now

    def take(self, want: int, need: int, now: float) -> tuple[int, float]:
        """Up to ``want`` permits (none unless ``need`` fit); else 0 and the seconds until they do."""
        self.refill(now)
        need = max(1, min(need, int(self.burst)))  # a call larger than the burst waits for a full bucket
        if self.level < need:
            return 0, max(MIN_WAIT_S, (need - self.level) / self.rate)
        n = min(max(want, need), int(self.level))
        self.level -= n
        return n, 0.0

    def give_back(self, n: int) -> None:
        self.level = min(self.burst, self.level + n)

    def empty_until(self, until: float) -> None:
        """Nothing in the bucket until ``until`` (a pause), then refilling from empty."""
        self.level, self.t = 0.0, max(self.t, until)


class _Client:
    __slots__ = ("demand", "in_flight", "seen")

    def __init__(self) -> None:
        self.seen, self.demand, self.in_flight = 0.0, 0, 0


class PermitBank:
    """Request and token permits, and shares of one concurrency budget, for many workers."""

    def __init__(
        self,
        config: BankConfig | None = None,
        *,
        lease_s: float = 0.5,
        burst_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.created_at = clock()
        self.lease_s, self.burst_s = lease_s, burst_s
        self.clients: dict[str, _Client] = {}
        self.granted_requests = 0  #: request permits handed out, ever
        self.returned_requests = 0  #: of which given back unspent
        self.granted_tokens = 0
        self.returned_tokens = 0
        self.asks = 0  #: how many times workers asked (each is one round trip to the actor)
        self.paused_until = 0.0
        self.control = "running"
        self.adaptive: AdaptiveConcurrency | None = None
        self.config = config or BankConfig()
        self._req: _Bucket | None = None
        self._tok: _Bucket | None = None
        self.configure(self.config)

    def configure(self, config: BankConfig) -> None:
        """Enforce ``config`` from now on (buckets start full; an adaptive controller is kept)."""
        now, lim = self._clock(), config.limits
        old = self.config
        self.config = config
        if self._req is None or old.limits.rpm != lim.rpm or old.limits.headroom != lim.headroom:
            self._req = _Bucket(lim.rpm, lim.headroom, self.burst_s, now) if lim.rpm else None
        if self._tok is None or old.limits.tpm != lim.tpm or old.limits.headroom != lim.headroom:
            self._tok = _Bucket(lim.tpm, lim.headroom, self.burst_s, now) if lim.tpm else None
        if not config.adaptive:
            self.adaptive = None
        elif self.adaptive is None:
            self.adaptive = AdaptiveConcurrency(
                initial=min(config.initial, config.maximum), maximum=config.maximum, clock=self._clock
            )

    @property
    def rpm(self) -> float | None:
        return self._req.per_minute if self._req else None

    @property
    def tpm(self) -> float | None:
        return self._tok.per_minute if self._tok else None

    @property
    def concurrency(self) -> int:
        """The cluster's calls-in-flight budget now."""
        return self.adaptive.limit if self.adaptive is not None else self.config.limits.concurrency

    # --- the one call a worker makes ---------------------------------------------------------------

    def take(self, client: str, ask: Ask) -> Grant:
        """Note what ``client`` saw, then grant it what it may spend now."""
        now = self._clock()
        self.asks += 1
        self._note(client, ask, now)
        share = self.share(client)
        paused = max(0.0, self.paused_until - now)
        if self.control != "running" or paused > 0:
            wait = paused if paused > 0 else self.lease_s
            return self._grant(0, 0, wait, share, paused)
        requests = tokens = UNLIMITED
        wait = 0.0
        if self._req is not None:
            requests, wait = self._req.take(ask.requests, 1, now) if ask.requests > 0 else (0, 0.0)
        if self._tok is not None:
            if ask.tokens > 0 and wait == 0.0:
                tokens, wait = self._tok.take(ask.tokens, ask.need_tokens, now)
                if tokens == 0 and requests > 0:  # the requests cannot be used without tokens: keep them
                    self._req.give_back(requests)  # type: ignore[union-attr]
                    requests = 0
            else:
                tokens = 0
        if requests > 0:
            self.granted_requests += requests
        if tokens > 0:
            self.granted_tokens += tokens
        return self._grant(requests, tokens, wait, share, 0.0)

    def _grant(self, requests: int, tokens: int, wait: float, share: int, paused: float) -> Grant:
        return Grant(requests, tokens, self.lease_s, wait, share, self.rpm, self.tpm, paused, self.control)

    def _note(self, client: str, ask: Ask, now: float) -> None:
        c = self.clients.get(client)
        if c is None:
            c = self.clients[client] = _Client()
        c.seen, c.demand, c.in_flight = now, max(0, ask.demand), max(0, ask.in_flight)
        if ask.returned_requests > 0 and self._req is not None:
            self._req.give_back(ask.returned_requests)
            self.returned_requests += ask.returned_requests
        if ask.returned_tokens > 0 and self._tok is not None:
            self._tok.give_back(ask.returned_tokens)
            self.returned_tokens += ask.returned_tokens
        if ask.pause_s > 0:
            self.pause(ask.pause_s, now)
        adaptive = self.adaptive
        if adaptive is not None:
            in_flight = sum(x.in_flight for x in self.clients.values())
            for latency in ask.latencies:
                adaptive.on_success(latency, in_flight, self.rpm)
            for _ in range(ask.overloads):
                adaptive.on_overload()
        stale = now - 3 * self.lease_s
        for name in [n for n, x in self.clients.items() if x.seen < stale]:
            del self.clients[name]

    def pause(self, seconds: float, now: float | None = None) -> None:
        """Grant nothing for ``seconds`` (a 429's ``Retry-After``), then refill from empty."""
        now = self._clock() if now is None else now
        until = now + seconds
        if until <= self.paused_until:
            return
        self.paused_until = until
        for bucket in (self._req, self._tok):
            if bucket is not None:
                bucket.empty_until(until)

    def share(self, client: str) -> int:
        """``client``'s part of the concurrency budget: by the work each active worker has waiting."""
        total = self.concurrency
        clients = self.clients
        me = clients.get(client)
        if me is None or len(clients) <= 1:
            return total
        demand = sum(max(1, c.demand) for c in clients.values())
        return max(1, math.floor(total * max(1, me.demand) / demand))

    def stats(self) -> dict[str, float]:
        """Permits granted and given back, asks, clients, the budget (for tests and benchmarks)."""
        return {
            "granted_requests": self.granted_requests,
            "returned_requests": self.returned_requests,
            "granted_tokens": self.granted_tokens,
            "returned_tokens": self.returned_tokens,
            "asks": self.asks,
            "clients": len(self.clients),
            "concurrency": self.concurrency,
            "burst": self._req.burst if self._req else 0.0,
            "rate_per_s": self._req.rate if self._req else 0.0,
            "age_s": self._clock() - self.created_at,
        }
