"""Progress says what it waits on: a call stuck in flight, or calls waiting for their retry."""

from __future__ import annotations

import io
import threading

import bfnb as bf
from bfnb.display.text import TextProgress
from bfnb.events import CallRetrying, CallSent, CallsQueued
from bfnb.op import AskLLM, FromList
from bfnb.testing import hostile_server
from bfnb.widgets import state as state_mod
from bfnb.widgets.broker_panel import detail_html
from bfnb.widgets.state import BrokerStates, PanelState

B = "chat m@hostile"


def test_a_stalled_call_and_a_pending_retry_are_named_on_a_fake_clock():
    st = PanelState(B)
    st.apply(CallsQueued(B, 2, "AskLLM"), 0.0)
    st.apply(CallSent(B, "k1"), 0.0)
    st.apply(CallSent(B, "k2"), 1.0)
    assert st.waiting_on(3.0) is None  # young calls: plain progress
    assert st.waiting_on(45.0) == f"waiting on {B}: 2 calls in flight, the oldest for 45 s"
    st.apply(CallRetrying(B, "k1", 1, "HTTP 429: slow down", 20.0), 60.0)
    st.apply(CallRetrying(B, "k2", 1, "HTTP 429: slow down", 30.0), 60.0)
    assert st.waiting_on(65.0) == "retrying in 15 s after attempt 1: HTTP 429: slow down"
    assert "retrying in 15 s" in detail_html(st, 65.0)  # the panel shows it too
    st.apply(CallSent(B, "k1", 2), 80.0)
    assert st.waiting_on(81.0) is None


def test_text_progress_names_the_broker_a_silent_server_keeps_waiting(monkeypatch):
    monkeypatch.setattr(state_mod, "STALL_S", 0.2)
    retry = bf.Retry(timeouts=bf.Timeouts(read=30, call_deadline=30))
    states = BrokerStates().subscribe()
    out = io.StringIO()
    progress = TextProgress(states.collect, file=out, disable=False, summary=False)
    try:
        with hostile_server("silent") as srv:
            bf.register_provider("hostile", srv.url, "HOSTILE_KEY")
            bf.get_broker("chat", "m@hostile", retry=retry)
            with bf.ProjectFolder("waiting", 1, 0, 0):
                g = bf.Graph() | FromList([{"k": "a"}]) | AskLLM("Q {k}", model="m@hostile")
            handle = g.run(background=True)
            said = None
            stop = threading.Event()
            for _ in range(100):  # at most ~10 s
                st = states.get(B)
                said = st.waiting_on() if st is not None else None
                if said:
                    break
                stop.wait(0.1)
            progress.refresh()
            handle.cancel()
        handle.wait(10)  # the server is gone: the call in flight ends now
    finally:
        progress.close()
        states.unsubscribe()
    assert said is not None and said.startswith(f"waiting on {B}: 1 call in flight, the oldest for ")
    assert f"waiting on {B}" in out.getvalue()
