"""Background runs: the call returns at once; the handle waits, gives the result, or cancels."""

from __future__ import annotations

import threading
import time

import bfnb as bf
from bfnb.op import AskLLM, FromList, MapField

GATE = threading.Event()  # the work waits for it: no clock decides whether run() returned at once


def gated(n):
    GATE.wait(30)
    return n + 1


def test_background_run_returns_at_once_and_delivers_the_result():
    GATE.clear()
    g = FromList([{"n": i} for i in range(10)]) | MapField(gated, "n")
    handle = g.run(background=True)  # a blocking run would wait here until the gate's timeout
    assert not handle.done()  # returned while its work is still held at the gate
    GATE.set()
    assert handle.result(timeout=30)["n"].tolist() == list(range(1, 11))
    assert handle.done() and "done" in repr(handle)


def test_cancel_a_background_run_leaves_completed_calls_in_the_ledger(server):
    server.configure(latency_s=0.2)
    from bfnb.brokers import RateLimits, get_broker

    get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(concurrency=4))
    with bf.ProjectFolder("bg", 1, 0, 0) as project:
        g = FromList([{"w": f"w{i}"} for i in range(200)]) | AskLLM("About {w}", model="gpt-4o-mini@openai")
    handle = g.run(background=True)
    deadline = time.time() + 20
    while server.stats()["answered"] < 8 and time.time() < deadline:
        time.sleep(0.02)
    handle.cancel()
    out = handle.result(timeout=30)
    done = int((out["status"] == "done").sum())
    assert 0 < done < 200 and set(out["status"]) == {"done", "pending"}
    assert len(project.ledger) >= done
    server.configure(latency_s=0.0)
    rest = g.run()  # a later run resumes: only the unsent calls go out
    assert (rest["status"] == "done").all()
    assert server.stats()["duplicates"] == 0


def test_done_callbacks_run_on_the_run_thread_before_wait_returns():
    import threading

    release = threading.Event()
    g = FromList([{"n": 1}]) | MapField(lambda n: release.wait(30) and n, "n")
    handle = g.run(background=True)
    seen: list[tuple[str, bool]] = []
    handle.add_done_callback(lambda h: seen.append((threading.current_thread().name, h.done())))
    assert seen == []
    release.set()
    handle.wait(timeout=30)
    assert seen == [("bfnb-run", False)]  # ran before the thread ended, so before wait() returned
    later: list[object] = []
    handle.add_done_callback(later.append)  # already finished: called at once
    assert later == [handle]


def test_the_panel_of_a_background_run_counts_the_whole_run_on_a_busy_machine(server, monkeypatch):
    """The display looks at the brokers before the run's first call, however slow it is to look.

    Started first, a loaded machine could answer calls before the panel took its baseline, and the
    panel then said "25 of 25" for a run of 56.
    """
    from bfnb.brokers.registry import all_brokers
    from bfnb.executor import hooks
    from bfnb.op import progress

    looked: dict[str, object] = {}

    def slow_display(handle):
        time.sleep(0.5)  # a busy machine: the display takes a while to look
        looked["answered_before_looking"] = server.stats()["answered"]
        looked["brokers"] = progress.since_now(all_brokers)
        return handle

    monkeypatch.setattr(hooks, "wrap_background", slow_display)
    g = FromList([{"w": f"busy{i}"} for i in range(12)]) | AskLLM("About {w}", model="gpt-4o-mini@openai")
    handle = g.run(background=True).wait(timeout=60)
    assert (handle.result()["status"] == "done").all()
    assert looked["answered_before_looking"] == 0
    from bfnb.widgets.state import PanelState

    shown = [PanelState.from_snapshot(b.snapshot()) for b in looked["brokers"]() if "gpt-4o-mini" in b.name]
    assert [(st.finished, st.total) for st in shown] == [(12, 12)]  # the panel's "12 of 12"
