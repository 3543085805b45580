"""The RPM/TPM pacer: its schedule (checked on a fake clock), pauses and header learning."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bfnb.brokers import RateLimits
from bfnb.brokers.limiter import Limiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def admissions(lim: Limiter, clock: Clock, n: int, tokens: int = 0) -> list[float]:
    return [lim.reserve(tokens, clock()) - clock() for _ in range(n)]


def test_no_limits_admit_at_once() -> None:
    lim = Limiter(RateLimits())
    assert asyncio.run(lim.acquire(500)) == 500
    assert lim.rpm is None and lim.tpm is None


def test_rpm_pacing_never_exceeds_the_limit_in_any_minute() -> None:
    clock = Clock()
    lim = Limiter(RateLimits(rpm=600, headroom=0.95), clock=clock)
    times = admissions(lim, clock, 2000)
    # a burst of about one second of the paced rate, then evenly spaced at 95 % of 10/s
    assert sum(1 for t in times if t == 0) == 9
    gaps = [b - a for a, b in itertools.pairwise(times[20:])]
    assert all(g == pytest.approx(60 / (600 * 0.95)) for g in gaps)
    # sliding 60 s windows over the schedule: never more than the limit
    j = 0
    for i, t in enumerate(times):
        while times[j] < t - 60:
            j += 1
        assert i - j + 1 <= 600


def test_tpm_reserves_and_settle_refunds() -> None:
    clock = Clock()
    lim = Limiter(RateLimits(tpm=120_000, headroom=0.5), clock=clock)  # 1000 tokens/s, burst 1000
    assert lim.reserve(1000, clock()) == clock()  # the burst
    second = lim.reserve(1000, clock()) - clock()
    assert second == pytest.approx(1.0)
    lim.settle(1000, 100)  # the last call used 100 of its 1000 reserved tokens
    third = lim.reserve(1000, clock()) - clock()
    assert third == pytest.approx(1.1)


def test_pause_delays_every_admission_and_restarts_slowly() -> None:
    clock = Clock()
    lim = Limiter(RateLimits(rpm=600), clock=clock)
    lim.pause(5.0)
    times = admissions(lim, clock, 3)
    assert 5.0 <= times[0] <= 5.0 + 60 / 570 + 1e-9  # the pause, then one paced interval
    assert times[1] > times[0] and times[2] > times[1]  # paced from an empty bucket, no burst
    assert lim.pauses == 1


def test_pause_without_limits_holds_acquire() -> None:
    clock = Clock()
    lim = Limiter(clock=clock)
    lim.pause(2.0)
    assert lim.reserve(0, clock()) == pytest.approx(clock() + 2.0)
    clock.t += 3
    assert lim.reserve(0, clock()) == clock()


def test_learns_limits_from_headers() -> None:
    lim = Limiter(RateLimits(rpm=10_000))
    lim.observe(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-limit-tokens": "90000",
            "x-ratelimit-remaining-tokens": "89000",
        }
    )
    assert lim.rpm == 500  # smaller than configured: the server knows better
    assert lim.tpm == 90000
    lim.observe({"x-ratelimit-limit-requests": "50000", "x-ratelimit-remaining-requests": "10"})
    assert lim.rpm == 10_000  # a larger learned limit never raises the configured one


def test_learning_can_be_switched_off() -> None:
    lim = Limiter(learn=False)
    lim.observe({"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499"})
    assert lim.rpm is None


def test_exhausted_bucket_pauses_for_one_unit() -> None:
    clock = Clock()
    lim = Limiter(clock=clock)
    lim.observe(
        {
            "x-ratelimit-limit-requests": "600",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1m0s",
        }
    )
    assert lim.paused_until - clock() == pytest.approx(0.1)  # 60 s to refill 600 -> 0.1 s for one


def test_acquire_really_waits_for_a_pause() -> None:
    async def main() -> float:
        lim = Limiter()
        lim.pause(0.2)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await lim.acquire(0)
        return loop.time() - t0

    assert asyncio.run(main()) >= 0.19
