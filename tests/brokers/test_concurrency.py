"""The adaptive concurrency controller, on a fake clock against a simulated server (no sleeps)."""

from __future__ import annotations

import pytest

from bfnb.brokers.concurrency import AdaptiveConcurrency, adaptive_for


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def simulate(ctl: AdaptiveConcurrency, clock: Clock, seconds: float, *, base: float = 0.2, capacity: int = 10**9,
             rpm: float | None = None, limited: int | None = None, slowdown=lambda t: 1.0) -> list[tuple[float, int]]:  # fmt: skip
    """Round trips of a server answering in ``base`` s until more than ``capacity`` calls queue.

    Every round trip the client sends ``limit`` calls (or ``limited``, when the work is scarcer);
    latency grows in proportion to the calls beyond capacity.  Returns (time, limit) per round.
    """
    trace = []
    while clock.t < seconds:
        sent = ctl.limit if limited is None else min(limited, ctl.limit)
        latency = base * max(1.0, sent / capacity) * slowdown(clock.t)
        for _ in range(sent):
            ctl.on_success(latency, sent, rpm)
        clock.t += latency
        trace.append((clock.t, ctl.limit))
    return trace


def test_slow_start_reaches_256_in_flight_within_two_seconds_on_a_200ms_server():
    clock = Clock()
    ctl = AdaptiveConcurrency(initial=16, clock=clock)
    trace = simulate(ctl, clock, 2.0)
    first = next(t for t, limit in trace if limit >= 256)
    assert first <= 2.0, trace
    assert ctl.slow_start  # latency stayed flat: still growing


def test_latency_growth_ends_slow_start_and_holds_near_the_server_capacity():
    clock = Clock()
    ctl = AdaptiveConcurrency(initial=16, clock=clock)
    trace = simulate(ctl, clock, 30.0, capacity=300)
    assert not ctl.slow_start
    late = [limit for t, limit in trace if t > 15]
    assert min(late) >= 200 and max(late) <= 600, late  # around 300, never runaway
    assert ctl.base_latency == pytest.approx(0.2, rel=0.3)


def test_latency_that_does_not_follow_the_limit_is_not_taken_for_a_queue():
    # from t = 5 s every answer takes 3x longer whatever the calls in flight (a busy CPU, a slower
    # provider): the limit must not collapse, as a pure latency gradient would make it
    clock = Clock()
    ctl = AdaptiveConcurrency(initial=16, clock=clock)
    trace = simulate(ctl, clock, 60.0, capacity=400, slowdown=lambda t: 3.0 if t > 5 else 1.0)
    before = max(limit for t, limit in trace if t <= 5)
    late = [limit for t, limit in trace if t > 40]
    assert min(late) >= 0.7 * min(before, 400), (before, late)
    assert ctl.rebaselines >= 1


def test_a_429_halves_the_limit_once_per_round_trip():
    clock = Clock()
    ctl = AdaptiveConcurrency(initial=16, clock=clock)
    simulate(ctl, clock, 1.0)
    before = ctl.limit
    assert ctl.on_overload() == before // 2
    assert ctl.on_overload() == before // 2  # the same burst of 429s cuts once
    clock.t += 1.0
    assert ctl.on_overload() == before // 4
    assert not ctl.slow_start and ctl.overloads == 3


def test_after_an_overload_growth_is_gradual():
    clock = Clock()
    ctl = AdaptiveConcurrency(initial=64, clock=clock)
    simulate(ctl, clock, 0.5)
    ctl.on_overload()
    start = ctl.limit
    simulate(ctl, clock, clock.t + 2.0)  # ten round trips at flat latency
    assert start < ctl.limit < 2 * start  # creeping up, not doubling each round trip


def test_a_known_rate_caps_the_limit_by_littles_law():
    clock = Clock()
    ctl = AdaptiveConcurrency(initial=16, clock=clock)
    simulate(ctl, clock, 3.0, rpm=30_000)  # 500 requests/s x 0.2 s = 100 in flight
    assert 100 <= ctl.limit <= 2 * 100 + 1
    assert ctl.rate_cap == 201


def test_a_half_empty_pool_does_not_grow_the_limit():
    clock = Clock()
    ctl = AdaptiveConcurrency(initial=16, clock=clock)
    simulate(ctl, clock, 5.0, limited=5)  # only 5 calls to send at a time
    assert ctl.limit == 16


def test_local_providers_start_at_4_and_stay_at_most_16():
    clock = Clock()
    ctl = adaptive_for("ollama")
    assert ctl.limit == 4
    ctl._clock = clock
    simulate(ctl, clock, 30.0)
    assert ctl.limit == 16
    assert adaptive_for("lmstudio").maximum == 16 and adaptive_for("openai").limit == 32


def test_bounds_are_checked():
    with pytest.raises(ValueError, match="minimum <= initial <= maximum"):
        AdaptiveConcurrency(initial=32, maximum=16)


# --- in a broker, over real HTTP -------------------------------------------------------------------


def test_a_broker_with_no_user_limits_adapts_and_user_limits_win(server, monkeypatch):
    from broker_helpers import chat_jobs, run

    from bfnb.brokers import RateLimits, get_broker
    from bfnb.widgets.broker_panel import detail_html
    from bfnb.widgets.state import PanelState

    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    server.configure(latency_s=0.02)
    broker = get_broker("chat", "gpt-4o-mini@openai")
    assert broker.adaptive is not None and broker.limits.concurrency == 32
    result = run(broker.run(chat_jobs(400), on_record=lambda r: None))
    assert all(r.status == "done" for r in result.values())
    assert broker.limits.concurrency > 32  # slow start while the latency stayed flat
    snap = broker.snapshot()
    assert snap.concurrency == broker.limits.concurrency and snap.adaptive
    st = PanelState.from_snapshot(snap)
    assert f"concurrency {snap.concurrency:,} (adaptive)" in detail_html(st, 0.0)
    get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(concurrency=5))  # the user's word
    assert broker.adaptive is None and broker.limits.concurrency == 5
    run(broker.run(chat_jobs(50, op="again"), on_record=lambda r: None))
    assert broker.limits.concurrency == 5 and not broker.snapshot().adaptive


def test_a_429_from_the_server_shrinks_a_brokers_concurrency(server, monkeypatch):
    from broker_helpers import FAST_RETRY, chat_jobs, run

    from bfnb.brokers import get_broker

    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    server.configure(latency_s=0.01, burst_429=5)
    broker = get_broker("chat", "gpt-4o-mini@openai", retry=FAST_RETRY)
    run(broker.run(chat_jobs(40), on_record=lambda r: None))
    assert broker.adaptive is not None and broker.adaptive.overloads >= 1 and not broker.adaptive.slow_start
