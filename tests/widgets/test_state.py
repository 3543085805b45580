"""PanelState and BrokerStates: counts, rates, ETA and errors from events, with an injected clock."""

from __future__ import annotations

import threading

import pytest

from bfnb.events import (
    BrokerStateChanged,
    CallDone,
    CallFailed,
    CallRetrying,
    CallsCached,
    CallSent,
    CallsQueued,
    EventBus,
)
from bfnb.widgets import PanelRefresher
from bfnb.widgets.state import BrokerStates, PanelState, redact

B = "chat gpt-4o-mini@local"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def feed(states: BrokerStates, clock: Clock, events):
    for t, ev in events:
        clock.t = t
        states(ev)


def run_sequence():
    clock = Clock()
    states = BrokerStates(clock)
    feed(
        states,
        clock,
        [
            (100.0, BrokerStateChanged(B, "running", {"budget_usd": 1.0})),
            (100.0, CallsQueued(B, 5, "AskLLM")),
            (100.0, CallsCached(B, 2, "AskLLM")),
            (100.5, CallSent(B, "k1")),
            (100.5, CallSent(B, "k2")),
            (100.5, CallSent(B, "k3")),
            (101.0, CallDone(B, "k1", 100, 20, 0.01, 0.5)),
            (102.0, CallDone(B, "k2", 100, 30, 0.02, 1.5)),
            (102.0, CallRetrying(B, "k3", 1, "429 Too Many Requests", 1.0)),
            (103.0, CallSent(B, "k3", attempt=2)),
            (103.0, CallSent(B, "k4")),
        ],
    )
    return states, clock


def test_counts_follow_the_event_sequence():
    states, clock = run_sequence()
    st = states.get(B)
    assert (st.pending, st.in_flight, st.done, st.cached, st.failed, st.retrying) == (1, 2, 2, 2, 0, 0)
    assert st.total == 7 and st.finished == 4 and st.progress == pytest.approx(4 / 7)
    assert (st.input_tokens, st.output_tokens) == (200, 50)
    assert st.cost == pytest.approx(0.03) and st.spend_fraction == pytest.approx(0.03)
    assert st.state == "running" and st.budget_usd == 1.0
    assert st.last_errors == ("attempt 1: 429 Too Many Requests",)

    feed(
        states,
        clock,
        [
            (104.0, CallFailed(B, "k3", "RateLimited: 429 after 2 attempts", 2)),
            (104.0, CallDone(B, "k4", 10, 10, None)),
        ],
    )
    st = states.get(B)
    assert (st.pending, st.in_flight, st.done, st.failed) == (1, 0, 3, 1)
    assert st.cost is None and st.cost_known is False  # one unknown price makes the total unknown
    assert st.elapsed_s == pytest.approx(4.0)


def test_retrying_counts_while_waiting_for_the_retry():
    states, clock = run_sequence()
    feed(states, clock, [(104.0, CallRetrying(B, "k4", 1, "503", 2.0))])
    st = states.get(B)
    assert (st.in_flight, st.retrying) == (1, 1)
    feed(states, clock, [(106.0, CallFailed(B, "k4", "503 again", 2))])
    assert (states.get(B).retrying, states.get(B).failed) == (0, 1)


def test_rates_over_the_recent_window_and_eta():
    clock = Clock()
    states = BrokerStates(clock)
    events = [(100.0, CallsQueued(B, 40))]
    for i in range(20):  # one call per second, 50 tokens each, from t=101 to t=120
        events += [(100.0 + i, CallSent(B, f"k{i}")), (101.0 + i, CallDone(B, f"k{i}", 40, 10, 0.001))]
    feed(states, clock, events)
    st = states.get(B)
    now = 120.0
    # only the last 10 s count: calls done at 111..120
    assert st.requests_per_s(now) == pytest.approx(1.0, rel=0.11)
    assert st.tokens_per_s(now) == pytest.approx(50.0, rel=0.11)
    assert st.remaining == 20
    assert st.eta_s(now) == pytest.approx(20.0, rel=0.11)
    # no calls for a while: the rate falls and the ETA becomes unknown
    assert st.requests_per_s(200.0) == 0.0 and st.eta_s(200.0) is None


def test_secrets_are_stripped_from_errors():
    key = "sk-proj-AbCdEf1234567890xyz"
    states, clock = run_sequence()
    feed(
        states,
        clock,
        [
            (105.0, CallFailed(B, "k9", f"401 Incorrect API key provided: {key}")),
            (105.0, CallFailed(B, "k8", "sent Authorization: Bearer abc.def-123 and api_key=hunter2xyz")),
            (105.0, CallFailed(B, "k7", '{"api-key": "s3cr3t-value"}')),
        ],
    )
    errors = " ".join(states.get(B).last_errors)
    for secret in ("AbCdEf1234567890xyz", "abc.def-123", "hunter2xyz", "s3cr3t-value"):
        assert secret not in errors
    assert "sk-proj-***" in errors and "Bearer ***" in errors  # the kind of key stays visible
    assert redact("x" * 1000).endswith("…") and len(redact("x" * 1000)) == 300


def test_last_five_errors_only():
    states, clock = run_sequence()
    feed(states, clock, [(105.0, CallFailed(B, f"e{i}", f"error {i}")) for i in range(8)])
    assert states.get(B).last_errors == tuple(f"error {i}" for i in range(3, 8))


def test_cancel_drops_pending_and_a_new_burst_starts_from_zero():
    states, clock = run_sequence()
    feed(states, clock, [(104.0, BrokerStateChanged(B, "cancelled"))])
    assert states.get(B).pending == 0 and states.get(B).state == "cancelled"
    feed(states, clock, [(109.0, CallDone(B, "k2", 1, 1, 0.0))])  # in flight when cancelled: still counted
    assert states.get(B).done == 3
    # the broker's order for new work: state "running", then the queued jobs
    feed(
        states,
        clock,
        [(110.0, BrokerStateChanged(B, "idle")), (111.0, BrokerStateChanged(B, "running")), (111.0, CallsQueued(B, 3))],
    )
    st = states.get(B)
    assert (st.pending, st.done, st.cached, st.total, st.started_at) == (3, 0, 0, 3, 111.0)
    feed(states, clock, [(112.0, BrokerStateChanged(B, "paused")), (113.0, BrokerStateChanged(B, "running"))])
    assert states.get(B).pending == 3  # resuming is not a new burst


def test_cached_before_queued_belongs_to_the_same_burst():
    states, clock = run_sequence()
    feed(
        states,
        clock,
        [
            (110.0, BrokerStateChanged(B, "idle")),
            (111.0, CallsCached(B, 4)),
            (111.0, BrokerStateChanged(B, "running")),
            (111.0, CallsQueued(B, 2)),
        ],
    )
    st = states.get(B)
    assert (st.cached, st.pending, st.done) == (4, 2, 0)


class FakeSnapshot:
    name = B
    state = "running"
    pending, in_flight, done, cached, failed, retrying = 3, 2, 10, 4, 1, 0
    input_tokens, output_tokens = 1000, 200
    cost_usd, cost_known = 0.05, True
    requests_per_s, tokens_per_s = 2.5, 300.0
    budget_usd = 0.5
    eta_s = 2.0
    last_errors = ("Bearer tok-123 refused",)
    started_at = 1_000.0


class SnapBroker:
    name = B

    def snapshot(self):
        return FakeSnapshot()


def test_collect_prefers_snapshots_and_adds_event_only_brokers():
    states = BrokerStates(Clock())
    states(CallsQueued("other", 2))
    got = states.collect([SnapBroker()])
    assert [s.name for s in got] == [B, "other"]
    st = got[0]
    assert (st.total, st.finished, st.remaining) == (20, 15, 5)
    assert st.requests_per_s(0) == 2.5 and st.tokens_per_s(0) == 300.0 and st.eta_s(0) == 2.0
    assert st.spend_fraction == pytest.approx(0.1)
    assert st.last_errors == ("Bearer *** refused",)
    assert got[1].pending == 2
    # the copies are independent of the live state
    got[1].pending = 99
    assert states.get("other").pending == 2


def test_from_a_real_broker_snapshot():
    from bfnb.brokers.function import FunctionBroker

    broker = FunctionBroker(lambda req: {"ok": True}, name="fn")
    st = PanelState.from_snapshot(broker.snapshot(), now=broker.snapshot().started_at + 2)
    assert (st.name, st.state, st.total, st.eta_s(0)) == ("fn", "idle", 0, 0.0)
    assert st.elapsed_s == pytest.approx(2.0)


def test_subscribe_to_a_bus_and_unsubscribe():
    bus = EventBus()
    states = BrokerStates(Clock()).subscribe(bus)
    bus.emit(CallsQueued(B, 3))
    states.unsubscribe()
    bus.emit(CallsQueued(B, 3))
    assert states.get(B).pending == 3 and not bus.has_subscribers


def test_refresher_refreshes_until_stopped_then_once_more():
    calls = []
    ticked = threading.Event()

    def refresh():
        calls.append(threading.current_thread().name)
        if len(calls) >= 3:
            ticked.set()

    r = PanelRefresher(refresh, interval=0.01).start()
    assert ticked.wait(10)
    r.stop()
    n = len(calls)
    r.stop()  # the final refresh happens once
    assert len(calls) == n and calls[-1] == threading.current_thread().name
    assert "bfnb-panel-refresh" in calls and not r.running


def test_refresher_stops_by_itself_when_until_says_so_and_survives_errors():
    done = threading.Event()
    calls = []

    def refresh():
        calls.append(1)
        raise RuntimeError("a broken view must not break the run")

    r = PanelRefresher(refresh, interval=0.01, until=lambda: len(calls) >= 2).start()
    thread = r._thread
    thread.join(10)
    assert not thread.is_alive() and len(calls) == 3  # two ticks, then the final refresh
    r.stop()
    assert len(calls) == 3
    del done


def test_event_rates_replace_a_snapshots_own_rates_and_a_failing_snapshot_falls_back():
    clock = Clock()
    states = BrokerStates(clock)
    feed(states, clock, [(100.0, CallsQueued(B, 10))] + [
        (100.0 + i, CallSent(B, f"k{i}")) for i in range(4)
    ] + [(101.0 + i, CallDone(B, f"k{i}", 10, 10, 0.0)) for i in range(4)])  # fmt: skip
    clock.t = 104.0
    (st,) = states.collect([SnapBroker()])
    assert st.done == 10  # counts come from the snapshot
    assert st.requests_per_s(104.0) == pytest.approx(1.0)  # the rate from the events, not 2.5

    class Broken:
        name = B

        def snapshot(self):
            raise RuntimeError("no snapshot")

    (st,) = states.collect([Broken()])
    assert (st.done, st.pending) == (4, 6)
