"""Typed events and a tiny synchronous bus.

The core (executor, brokers, ledger) emits events; the UI (broker panel, text progress, explain)
subscribes.  The core never imports the UI, so a script, a test or a worker runs it unchanged.
Subscribers are called synchronously in the emitting thread (brokers emit from the event-loop
thread), so a subscriber must be quick and thread-safe: copy numbers into its own state and render
later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BrokerStateChanged",
    "CallDone",
    "CallFailed",
    "CallRetrying",
    "CallSent",
    "CallsCached",
    "CallsQueued",
    "Event",
    "EventBus",
    "NodeFinished",
    "NodeStarted",
    "RunFinished",
    "RunStarted",
    "bus",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event."""


# --- graph execution ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    run_id: str
    n_nodes: int


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    run_id: str
    seconds: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NodeStarted(Event):
    run_id: str
    node_id: int
    label: str


@dataclass(frozen=True, slots=True)
class NodeFinished(Event):
    """A node produced its result; ``cached`` is True when it came from the memo or a checkpoint."""

    run_id: str
    node_id: int
    label: str
    rows_in: int
    rows_out: int
    cached: bool
    seconds: float
    fingerprint: str = ""


# --- brokers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallsQueued(Event):
    """``n`` new jobs are waiting for ``broker`` (a broker's display name)."""

    broker: str
    n: int
    op: str = ""


@dataclass(frozen=True, slots=True)
class CallsCached(Event):
    """``n`` jobs were answered from the ledger without a call."""

    broker: str
    n: int
    op: str = ""


@dataclass(frozen=True, slots=True)
class CallSent(Event):
    broker: str
    key: str
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class CallDone(Event):
    broker: str
    key: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None: the price is unknown, never silently $0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class CallRetrying(Event):
    broker: str
    key: str
    attempt: int
    error: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class CallFailed(Event):
    """A job gave up after its last attempt (or was refused by the budget)."""

    broker: str
    key: str
    error: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class BrokerStateChanged(Event):
    """A broker was paused, resumed or cancelled, or its budget stopped dispatch."""

    broker: str
    state: str  # "running" | "paused" | "cancelled" | "budget" | "idle"
    detail: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe; a failing subscriber never breaks the run that emits."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add ``fn``; returns a function that removes it again."""
        with self._lock:
            self._subscribers = [*self._subscribers, fn]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not fn]

        return unsubscribe

    def emit(self, event: Event) -> None:
        for fn in self._subscribers:  # copy-on-write list: safe to iterate without the lock
            try:
                fn(event)
            except Exception:  # a broken display must not break a paid run
                pass

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)


bus = EventBus()
