"""Controls: which commands make sense, and clicks reach the broker."""

from __future__ import annotations

import asyncio
import concurrent.futures

from bfnb.widgets.controls import Controls, enabled_commands
from bfnb.widgets.state import PanelState


def test_enabled_commands_by_state():
    assert enabled_commands(PanelState("b", state="running", pending=1)) == {"pause", "cancel"}
    assert enabled_commands(PanelState("b", state="paused")) == {"resume", "cancel"}
    assert enabled_commands(PanelState("b", state="idle", failed=2)) == {"retry_failed"}
    assert enabled_commands(PanelState("b", state="idle")) == set()


class Partial:
    """A broker that can only be cancelled; retry returns a future that fails later."""

    def __init__(self):
        self.cancelled = 0
        self.future = concurrent.futures.Future()

    def cancel(self):
        self.cancelled += 1

    def retry_failed(self):
        return self.future


def test_missing_commands_are_disabled_and_async_failures_are_reported():
    broker = Partial()
    c = Controls(broker)
    c.update(PanelState("b", state="running", failed=1))
    assert {m: b.disabled for m, b in c.buttons.items()} == {
        "pause": True,
        "resume": True,
        "cancel": False,
        "retry_failed": False,
    }
    c.buttons["cancel"].click()
    assert broker.cancelled == 1
    assert c.command("pause") is None and "not supported" in c.status.value
    assert c.command("retry_failed") is broker.future
    broker.future.set_exception(RuntimeError("Bearer abc123 rejected"))
    assert c.status.value == "retry_failed failed: RuntimeError: Bearer *** rejected"


def test_coroutine_commands_run_on_the_bfnb_loop():
    ran = []

    class AsyncBroker:
        async def pause(self):
            ran.append(asyncio.get_running_loop())

    result = Controls(AsyncBroker()).command("pause")
    result.result(timeout=10)
    from bfnb.executor.loop import get_loop

    assert ran == [get_loop()]
