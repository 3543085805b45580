"""The worker side of the cluster-wide limit: a broker's limiter that takes permits from the hub.

:class:`ClusterLimiter` has the interface the broker's worker pool uses of its
:class:`~bfnb.brokers.limiter.Limiter` (``acquire``, ``settle``, ``pause``, ``observe``, ``rpm``),
and :class:`ClusterConcurrency` that of its adaptive controller (``on_success``, ``on_overload``,
``limit``); :func:`share_limits` puts both into a broker, so a broker on a Ray worker obeys the
cluster's one RPM/TPM limit and its share of one concurrency budget instead of its own.

Permits come in blocks from the :class:`~.permit_bank.PermitBank` in the hub actor: ``acquire``
spends from the block in hand (a counter decrement), and only when the block is spent asks the hub
again, once for all the calls waiting in this process.  The block asked for is what this worker
spent in the last ``lease_s / 2`` seconds, so a busy worker asks a few times a second whatever its
rate.  A block not spent within its lease is given back with the next ask.  What the worker saw
(latencies, overloads, a ``Retry-After``, ``x-ratelimit-*`` limits) rides along with its asks, and
is sent on its own every 0.1 s while calls are answered, so the adaptive concurrency in the hub
steers from every worker's answers.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ...brokers.config import RateLimits
from ...brokers.retry import header_number, parse_duration
from .permit_bank import UNLIMITED, Ask, BankConfig, Grant

__all__ = ["ClusterConcurrency", "ClusterLimiter", "share_limits"]

REPORT_S = 0.1  #: longest a worker keeps its answers' latencies before telling the hub
_MAX_SAMPLES = 4_096


class ClusterLimiter:
    """A broker's limiter whose permits come from the cluster hub (``hub.take.remote``).

    ``ask`` is how a block is fetched: an async callable ``(key, config, client, Ask) -> Grant``
    (the Ray actor call by default; tests pass the bank itself).
    """

    def __init__(
        self,
        ask: Callable[[str, BankConfig, str, Ask], Any],
        key: str,
        config: BankConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ask_hub, self.key, self.config, self._clock = ask, key, config, clock
        self.client = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.broker: Any = None  # the broker this limits (its counts are the demand reported)
        self.concurrency = ClusterConcurrency(self)
        self.share = config.limits.concurrency if not config.adaptive else config.initial
        self.grant: Grant | None = None
        self.requests = 0  # permits in hand (UNLIMITED: no limit)
        self.tokens = 0
        self.spent = 0  #: request permits spent by this worker, ever
        self._granted_at = -math.inf
        self._lease = 0.5
        self._returned_req = self._returned_tok = 0
        self._latencies: list[float] = []
        self._overloads = 0
        self._pause_s = 0.0
        self._paused_until = 0.0
        self._asked_at = -math.inf
        self._rate = 0.0  # permits spent per second (smoothed)
        self._spent_at = clock()
        self._waiting = 0
        self._asking: asyncio.Task[Grant] | None = None
        self.pauses = 0
        self.learned: dict[str, float] = {}
        #: the broker's own limiter, used alone if the hub cannot be reached (the driver went away)
        self.fallback: Any = None
        self.lost: str | None = None

    # --- what the pool asks of a limiter --------------------------------------------------------------

    async def acquire(self, tokens: int = 0) -> int:
        """Wait until one request of ``tokens`` tokens may be sent (cluster-wide); returns the tokens reserved."""
        if self.lost is not None and self.fallback is not None:
            return int(await self.fallback.acquire(tokens))
        self._waiting += 1
        try:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                if now - self._granted_at > self._lease:
                    self._give_back()
                if self._has(tokens):
                    self._spend(tokens, now)
                    return tokens
                grant = await self._ask(tokens)
                if self.lost is not None and self.fallback is not None:
                    return int(await self.fallback.acquire(tokens))
                if grant.wait_s > 0 and not self._has(tokens):
                    await asyncio.sleep(grant.wait_s)
        finally:
            self._waiting -= 1

    def settle(self, reserved: int, actual: int) -> None:
        """Give back (or charge) the tokens reserved but not used (once the answer's usage is known)."""
        if self.lost is not None and self.fallback is not None:
            self.fallback.settle(reserved, actual)
            return
        if self.tokens != UNLIMITED and reserved != actual:
            self.tokens += reserved - actual

    def pause(self, seconds: float) -> None:
        """A 429's ``Retry-After``: this worker waits, and the hub pauses every worker."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1
            self._pause_s = max(self._pause_s, seconds)
            self._ask_soon()

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """``x-ratelimit-*`` headers: a smaller limit is passed to the hub; an exhausted one pauses."""
        if not headers or (
            "x-ratelimit-remaining-requests" not in headers and "x-ratelimit-remaining-tokens" not in headers
        ):
            return
        limits, changed = self.config.limits, dict[str, Any]()
        for name, header in (("rpm", "x-ratelimit-limit-requests"), ("tpm", "x-ratelimit-limit-tokens")):
            value = header_number(headers.get(header))
            if value and value > 0:
                self.learned[name] = value
                current = getattr(limits, name)
                if current is None or value < current:
                    changed[name] = value
        if changed:
            self.config = replace(self.config, limits=replace(limits, **changed))
            self._ask_soon()
        for rem, lim, reset in (("requests", "requests", "requests"), ("tokens", "tokens", "tokens")):
            n = header_number(headers.get(f"x-ratelimit-remaining-{rem}"))
            if n is not None and n < 1:
                wait = parse_duration(headers.get(f"x-ratelimit-reset-{reset}"))
                total = header_number(headers.get(f"x-ratelimit-limit-{lim}"))
                if wait:
                    self.pause(wait / total if total and total > 1 else wait)

    def configure(self, limits: RateLimits) -> None:
        """New limits (``Broker.configure``): sent to the hub with the next ask."""
        self.config = replace(self.config, limits=limits, adaptive=False)

    @property
    def limits(self) -> RateLimits:
        return self.config.limits

    @property
    def rpm(self) -> float | None:
        return self.grant.rpm if self.grant is not None else self.config.limits.rpm

    @property
    def tpm(self) -> float | None:
        return self.grant.tpm if self.grant is not None else self.config.limits.tpm

    @property
    def paused_until(self) -> float:
        return self._paused_until

    # --- the block in hand --------------------------------------------------------------------------

    def _has(self, tokens: int) -> bool:
        if self.requests == 0:
            return False
        return self.tokens == UNLIMITED or tokens <= 0 or self.tokens >= tokens

    def _spend(self, tokens: int, now: float) -> None:
        if self.requests != UNLIMITED:
            self.requests -= 1
        if self.tokens != UNLIMITED and tokens > 0:
            self.tokens -= tokens
        self.spent += 1
        dt = now - self._spent_at
        if dt > 0:
            a = min(1.0, dt / 1.0)  # ~1 s smoothing
            self._rate = (1 - a) * self._rate + a * (1.0 / dt)
            self._spent_at = now
        if self._latencies and now - self._asked_at > REPORT_S:
            self._ask_soon()

    def _give_back(self) -> None:
        """The lease ran out: what is left of the block goes back to the hub with the next ask."""
        if self.requests > 0:
            self._returned_req += self.requests
            self.requests = 0
        if self.tokens > 0:
            self._returned_tok += self.tokens
            self.tokens = 0
        elif self.tokens == UNLIMITED:
            self.tokens = 0
        if self.requests == UNLIMITED:
            self.requests = 0

    # --- asking the hub -----------------------------------------------------------------------------

    def _ask(self, tokens: int) -> asyncio.Task[Grant]:
        """One ask in flight per worker: later callers wait for the same answer."""
        task = self._asking
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = self._asking = asyncio.get_running_loop().create_task(self._do_ask(tokens))
        return task

    def _ask_soon(self) -> None:
        """Tell the hub now (a pause, new limits, latencies to report) without waiting for its answer."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._asking
        if task is None or task.done() or task.get_loop() is not loop:
            self._asking = loop.create_task(self._do_ask(0))

    async def _do_ask(self, tokens: int) -> Grant:
        now = self._clock()
        want = max(1, self._waiting, math.ceil(self._rate * self._lease / 2))
        ask = Ask(
            requests=want if self.requests != UNLIMITED else 0,
            tokens=want * max(tokens, 1) if self.tokens != UNLIMITED else 0,
            need_tokens=tokens,
            returned_requests=self._returned_req,
            returned_tokens=self._returned_tok,
            latencies=tuple(self._latencies),
            overloads=self._overloads,
            demand=self._demand(),
            in_flight=self._in_flight(),
            pause_s=self._pause_s,
        )
        self._returned_req = self._returned_tok = self._overloads = 0
        self._latencies, self._pause_s, self._asked_at = [], 0.0, now
        try:
            grant: Grant = await self._ask_hub(self.key, self.config, self.client, ask)
        except Exception as e:  # no hub: pace by this broker's own limiter from now on, never hang
            if self.fallback is None:
                raise
            self.lost = f"{type(e).__name__}: {e}"
            return Grant(UNLIMITED, UNLIMITED, math.inf, 0.0, self.share)
        self._take(grant)
        return grant

    def _take(self, grant: Grant) -> None:
        self.grant, self._lease = grant, grant.lease_s
        now = self._clock()
        if grant.requests == UNLIMITED:
            self.requests = UNLIMITED
        elif grant.requests > 0:
            self.requests = max(0, self.requests) + grant.requests
        if grant.tokens == UNLIMITED:
            self.tokens = UNLIMITED
        elif grant.tokens > 0:
            self.tokens = (self.tokens if self.tokens != UNLIMITED else 0) + grant.tokens
        if grant.requests or grant.tokens:
            self._granted_at = now
        if grant.pause_s > 0:
            self._paused_until = max(self._paused_until, now + grant.pause_s)
        if grant.control != "running":  # the driver's pause button: hold every call here
            self._paused_until = max(self._paused_until, now + grant.wait_s)
        if grant.concurrency != self.share:
            self.share = grant.concurrency
            pool = getattr(self.broker, "pool", None)
            if pool is not None and pool.adaptive is self.concurrency:
                pool.set_concurrency(self.share)

    def _demand(self) -> int:
        c = getattr(self.broker, "counters", None)
        if c is None:
            return self._waiting
        return max(0, c.pending) + c.in_flight + c.retrying

    def _in_flight(self) -> int:
        c = getattr(self.broker, "counters", None)
        return c.in_flight if c is not None else 0


class ClusterConcurrency:
    """A broker's adaptive controller on a worker: its limit is this worker's share of the cluster's.

    Answers and overloads go to the hub's controller (which steers the whole budget); an overload
    also halves this worker's share at once, before the hub answers.
    """

    def __init__(self, link: ClusterLimiter) -> None:
        self._link = link

    @property
    def limit(self) -> int:
        return self._link.share

    def on_success(self, latency_s: float, in_flight: int | None = None, rpm: float | None = None) -> int:
        link = self._link
        if len(link._latencies) < _MAX_SAMPLES:
            link._latencies.append(latency_s)
        if link._clock() - link._asked_at > REPORT_S:
            link._ask_soon()
        return link.share

    def on_overload(self) -> int:
        link = self._link
        link._overloads += 1
        link.share = max(1, link.share // 2)
        link._ask_soon()
        return link.share

    def __repr__(self) -> str:
        return f"<ClusterConcurrency share {self._link.share} of the cluster's>"


def share_limits(broker: Any, limiter: ClusterLimiter) -> ClusterLimiter:
    """Make ``broker`` pace and size itself by ``limiter`` (idempotent); returns the limiter in force."""
    pool = broker.pool
    if isinstance(pool.limiter, ClusterLimiter) and pool.limiter.key == limiter.key:
        return pool.limiter
    limiter.broker = broker
    limiter.fallback = pool.limiter
    pool.limiter = limiter
    pool.adaptive = limiter.concurrency
    pool.set_concurrency(limiter.share)
    return limiter
