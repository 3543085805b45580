"""BrokerPanel and live_progress: built without a kernel, fed by real brokers and events."""

from __future__ import annotations

import io
import re

import pytest

from bfnb.brokers.broker import Job
from bfnb.brokers.function import FunctionBroker
from bfnb.events import CallFailed, CallsQueued
from bfnb.executor.loop import run_sync
from bfnb.widgets import BrokerPanel, in_kernel, live_progress
from bfnb.widgets.broker_panel import bar_style, detail_html
from bfnb.widgets.state import BrokerStates, PanelState


class FakeBroker:
    """The broker duck type: a name, snapshot() and the four commands."""

    def __init__(self, name="fake <b>"):
        self.name = name
        self.calls = []
        self.snap = dict(
            state="running",
            pending=2,
            in_flight=1,
            done=5,
            cached=1,
            failed=1,
            retrying=0,
            input_tokens=900,
            output_tokens=300,
            cost_usd=0.02,
            cost_known=True,
            requests_per_s=3.0,
            tokens_per_s=1200.0,
            budget_usd=1.0,
            eta_s=1.0,
            last_errors=("<img src=x onerror=alert(1)> sk-secret123456",),
            started_at=0.0,
        )

    def snapshot(self):
        return type("Snap", (), dict(self.snap, name=self.name))()

    def pause(self):
        self.calls.append("pause")

    def resume(self):
        self.calls.append("resume")

    def cancel(self):
        self.calls.append("cancel")

    def retry_failed(self):
        self.calls.append("retry_failed")
        raise RuntimeError("nothing to retry, key sk-abcdef123456")


def test_panel_builds_without_a_kernel_and_renders_state():
    assert not in_kernel()
    broker = FakeBroker()
    panel = BrokerPanel(lambda: [broker])
    panel.refresh()
    assert panel.names == ["fake <b>"]
    (row,) = panel.widget.children
    title, bar, detail, _controls = row.children
    assert (bar.value, bar.max, bar.bar_style) == (7, 10, "info")
    assert "fake &lt;b&gt;" in title.value and "7 of 10" in title.value
    for text in (
        "pending 2",
        "in flight 1",
        "done 5",
        "cached 1",
        "failed 1",
        "retrying 0",
        "3.0 req/s",
        "1.2K tok/s",
        "spend $0.02 of $1.00 budget (2%)",
        "ETA 1.0 s",
    ):
        assert text in detail.value
    assert "<img" not in detail.value and "sk-secret" not in detail.value
    assert repr(panel) == "BrokerPanel(brokers=['fake <b>'])"
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == repr(panel)
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id


def test_buttons_call_the_broker_and_follow_the_state():
    broker = FakeBroker()
    panel = BrokerPanel(lambda: [broker])
    panel.refresh()
    buttons = panel._rows["fake <b>"].controls.buttons
    assert {m: b.disabled for m, b in buttons.items()} == {
        "pause": False,
        "resume": True,
        "cancel": False,
        "retry_failed": False,
    }
    for method in ("pause", "cancel"):
        buttons[method].click()
    buttons["retry_failed"].click()
    assert broker.calls == ["pause", "cancel", "retry_failed"]
    status = panel._rows["fake <b>"].controls.status.value
    assert "retry_failed failed: RuntimeError" in status and "sk-abcdef" not in status
    broker.snap.update(state="paused", failed=0)
    panel.refresh()
    assert (buttons["pause"].disabled, buttons["resume"].disabled, buttons["retry_failed"].disabled) == (
        True,
        False,
        True,
    )
    assert panel._rows["fake <b>"].bar.bar_style == "warning"


def test_event_only_brokers_get_a_row_without_buttons():
    states = BrokerStates()
    states(CallsQueued("events only", 4))
    states(CallFailed("events only", "k", "boom"))
    panel = BrokerPanel(states=states)
    panel.refresh()
    (row,) = panel.widget.children
    assert len(row.children) == 3  # title, bar, details: nothing to send commands to
    assert "⚠ boom" in row.children[2].value


def test_bar_style_and_detail_are_pure():
    st = PanelState("b", state="idle", done=3, failed=0)
    assert bar_style(st) == "success"
    assert bar_style(PanelState("b", state="idle", done=3, failed=1)) == "danger"
    assert bar_style(PanelState("b")) == ""
    html = detail_html(PanelState("b", cost_known=False, pending=1), 0.0)
    assert "spend unknown" in html and "ETA —" in html


def echo_broker(name="echo"):
    def handler(request):
        return {"text": request["q"], "usage": {"prompt_tokens": 100, "completion_tokens": 20}}

    return FunctionBroker(handler, name=name, prices=(1.0, 2.0))


def jobs(n, prefix="k"):
    return [Job(f"{prefix}{i}", "chat", {"q": str(i)}) for i in range(n)]


def test_attached_panel_follows_a_real_broker_run():
    broker = echo_broker()
    panel = BrokerPanel().attach(lambda: [broker], interval=0.01)
    broker.note_cached(2)  # the ledger answered two jobs, then six calls are sent
    run_sync(broker.run(jobs(6), on_record=lambda r: None))
    panel.detach()
    (row,) = panel.widget.children
    title, bar, detail, _ = row.children
    assert (bar.value, bar.max, bar.bar_style) == (8, 8, "success")
    assert "8 of 8" in title.value and "done 6" in detail.value and "cached 2" in detail.value
    assert "spend $0.0008" in detail.value  # 6 × (100 in × $1 + 20 out × $2) per million tokens


def test_live_progress_text_fallback_prints_one_summary_per_busy_broker():
    busy, idle = echo_broker("chat busy@local"), echo_broker("chat idle@local")
    run_sync(idle.run(jobs(2, "old"), on_record=lambda r: None))  # earlier work: not summarised
    buf = io.StringIO()
    with live_progress(lambda: [busy, idle], file=buf, interval=0.01) as progress:
        busy.note_cached(2)
        run_sync(busy.run(jobs(5), on_record=lambda r: None))
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(r"chat busy@local: 7 done \(2 cached\), 0 failed, 600 tokens, \$0\.0007 — \d+\.\d+ s", lines[0])
    assert type(progress).__name__ == "TextProgress"


def test_live_progress_can_force_text_even_with_bars():
    broker = echo_broker()
    buf = io.StringIO()
    with live_progress(lambda: [broker], file=buf, text=True, interval=0.01) as progress:
        progress._disable = False  # show the bar although buf is not a terminal
        run_sync(broker.run(jobs(3), on_record=lambda r: None))
    out = buf.getvalue()
    assert "3/3" in out and "echo: 3 done (0 cached)" in out


@pytest.mark.parametrize("text", [False])
def test_live_progress_panel_requested_outside_a_kernel_still_works(text, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    broker = echo_broker()
    with live_progress(lambda: [broker], text=text, interval=0.01) as panel:
        run_sync(broker.run(jobs(2), on_record=lambda r: None))
    assert shown == [panel] and panel._rows["echo"].bar.value == 2


def test_attach_until_stops_by_itself_and_unsubscribes():
    from bfnb.events import bus

    broker = FakeBroker()
    panel = BrokerPanel().attach(lambda: [broker], interval=0.01, until=lambda: True)
    panel._refresher._thread.join(10)
    assert panel.states._unsubscribe is None and panel.states not in bus._subscribers
    assert panel._rows["fake <b>"].bar.value == 7
    panel.detach()


def test_watch_background_outside_a_kernel_shows_nothing():
    from bfnb.widgets import watch_background

    class Handle:
        def done(self):
            return True

    h = Handle()
    assert watch_background(h, list) is h


def test_event_counts_agree_with_the_real_brokers_snapshot_over_two_bursts():
    from bfnb.brokers.config import Retry
    from bfnb.brokers.retry import TransientError

    seen = set()

    def flaky(request):
        if request["q"] in ("1", "2") and request["q"] not in seen:  # first attempt fails, the retry works
            seen.add(request["q"])
            raise TransientError("503 busy")
        if request["q"] == "3":
            raise ValueError("bad request")  # fails at once
        return {"usage": {"prompt_tokens": 7, "completion_tokens": 3}}

    broker = FunctionBroker(flaky, name="flaky", prices=(1.0, 1.0), retry=Retry(max_attempts=3, backoff_base_s=0.01))
    states = BrokerStates().subscribe()
    try:
        for burst in ("a", "b"):
            seen.clear()
            broker.note_cached(1)
            run_sync(
                broker.run([Job(f"{burst}{i}", "chat", {"q": str(i)}) for i in range(6)], on_record=lambda r: None)
            )
            from_events, from_snapshot = states.get("flaky"), states.collect([broker])[0]
            for attr in ("pending", "in_flight", "done", "cached", "failed", "retrying", "input_tokens", "cost_usd"):
                assert getattr(from_events, attr) == pytest.approx(getattr(from_snapshot, attr)), (burst, attr)
            assert (from_events.done, from_events.cached, from_events.failed) == (5, 1, 1)
            assert "bad request" in from_events.last_errors[-1]
    finally:
        states.unsubscribe()
