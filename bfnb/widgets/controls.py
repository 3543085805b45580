"""Pause / resume / cancel / retry-failed buttons: commands to a broker, nothing more.

Needs the ``notebook`` extra (ipywidgets), imported when the buttons are built.  A click calls the
broker's method of the same name (brokers forward these to their own event loop, so any thread
may call them); what the buttons show comes only from the :class:`~bfnb.widgets.state.PanelState`
passed to :meth:`Controls.update`.  A command that raises is reported in a small status label
rather than lost in the kernel log.
"""

from __future__ import annotations

import inspect
from typing import Any

from .state import PanelState, redact

__all__ = ["COMMANDS", "Controls", "enabled_commands"]

#: (broker method, button text, icon)
COMMANDS = (
    ("pause", "pause", "pause"),
    ("resume", "resume", "play"),
    ("cancel", "cancel", "stop"),
    ("retry_failed", "retry failed", "redo"),
)


def enabled_commands(state: PanelState) -> set[str]:
    """Which commands make sense for a broker in ``state`` (the others are greyed)."""
    on = set()
    if state.state == "running":
        on.add("pause")
    if state.state == "paused":
        on.add("resume")
    if state.state in ("running", "paused") or state.remaining:
        on.add("cancel")
    if state.failed:
        on.add("retry_failed")
    return on


class Controls:
    """The four buttons of one broker row; ``box`` is the ipywidgets ``HBox`` to show."""

    def __init__(self, broker: Any) -> None:
        import ipywidgets as w

        self.broker = broker
        self.buttons: dict[str, Any] = {}
        for method, text, icon in COMMANDS:
            available = callable(getattr(broker, method, None))
            b = w.Button(
                description=text,
                icon=icon,
                disabled=not available,
                tooltip=f"{text} this broker",
                layout=w.Layout(width="auto"),
            )
            b.on_click(lambda _b, m=method: self.command(m))
            self.buttons[method] = b
        self.status = w.Label(value="")
        self.box = w.HBox([*self.buttons.values(), self.status])

    def command(self, method: str) -> Any:
        """Call ``broker.<method>()``; errors go to the status label. Returns what the method returned."""
        fn = getattr(self.broker, method, None)
        if not callable(fn):
            self.status.value = f"{method} is not supported by this broker"
            return None
        try:
            result = fn()
        except Exception as err:
            self.status.value = redact(f"{method} failed: {type(err).__name__}: {err}")
            return None
        if inspect.iscoroutine(result):
            from bfnb.executor.loop import submit

            result = submit(result)
        if hasattr(result, "add_done_callback"):
            result.add_done_callback(lambda fut, m=method: self._report(m, fut))
        self.status.value = ""
        return result

    def _report(self, method: str, fut: Any) -> None:
        try:
            err = None if fut.cancelled() else fut.exception()
        except Exception as e:  # exception() on an unfinished asyncio future
            err = e
        if err is not None:
            self.status.value = redact(f"{method} failed: {type(err).__name__}: {err}")

    def update(self, state: PanelState) -> None:
        """Grey out the commands that make no sense now (only changed traits are sent)."""
        on = enabled_commands(state)
        for method, b in self.buttons.items():
            disabled = method not in on or not callable(getattr(self.broker, method, None))
            if b.disabled != disabled:
                b.disabled = disabled
