"""What a broker panel shows, as plain data: built from events or from a broker's snapshot.

A :class:`PanelState` holds one broker's counts (pending, in flight, done, cached, failed,
retrying), tokens, spend, budget and last errors, and derives the total, the progress, the rates
over a recent window, the ETA and the spend against the budget.  It needs no kernel, so it is unit
tested with an injected clock, and every view (the ipywidgets panel, the tqdm bars) only renders
it.  :class:`BrokerStates` subscribes to :data:`bfnb.events.bus` and keeps one state per broker;
:meth:`BrokerStates.collect` prefers a broker's own ``snapshot()`` when a broker object is at hand
(the broker counts exactly) and falls back to the event-built state.

Counting follows the broker: ``done`` counts answered calls, ``cached`` jobs answered from the
ledger without a call, so ``total = pending + in_flight + retrying + done + cached + failed``.
Error texts are redacted (API keys, bearer tokens) before they are stored.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from bfnb.events import (
    BrokerStateChanged,
    CallDone,
    CallFailed,
    CallRetrying,
    CallsCached,
    CallSent,
    CallsQueued,
    Event,
)

from ..redaction import redact as _redact

__all__ = ["BrokerStates", "PanelState", "redact"]

MAX_ERRORS = 5
WINDOW_S = 10.0  # rates are measured over the last WINDOW_S seconds
_BUCKET_S = 0.25
_ERROR_CHARS = 300
STALL_S = 5.0  # a call in flight this long is worth naming: the progress says what it waits on


def redact(text: str) -> str:
    """``text`` without secrets (:func:`bfnb.redaction.redact`), cut to 300 characters."""
    text = _redact(text)
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"


def format_wait(seconds: float) -> str:
    """``"45 s"``, ``"3 min 20 s"``, ``"1 h 0 min"``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


@dataclass
class PanelState:
    """One broker's progress; mutable, updated by :meth:`apply` or built by :meth:`from_snapshot`."""

    name: str
    state: str = "idle"
    pending: int = 0
    in_flight: int = 0
    done: int = 0
    cached: int = 0
    failed: int = 0
    retrying: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    budget_usd: float | None = None
    last_errors: tuple[str, ...] = ()
    concurrency: int | None = None  # calls allowed in flight now (from a snapshot; None: unknown)
    adaptive: bool = False  # whether the broker adapts that number (no limit set by the user)
    started_at: float | None = None  # first event of this burst (same clock as ``now``)
    updated_at: float | None = None  # last event
    # set when built from a broker snapshot, which measures these itself
    snap_rates: tuple[float, float, float | None] | None = field(default=None, repr=False)
    _window: deque[list[float]] = field(default_factory=deque, repr=False, compare=False)
    _stage: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _sent_at: float | None = field(default=None, repr=False, compare=False)
    _since: dict[str, float] = field(default_factory=dict, repr=False, compare=False)  # sent at, or retry due at
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)  # the events' clock
    _burst_over: bool = field(default=False, repr=False, compare=False)

    # --- derived ------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return self.pending + self.in_flight + self.retrying + self.done + self.cached + self.failed

    @property
    def finished(self) -> int:
        """Jobs with an outcome: answered, answered from the ledger, or given up."""
        return self.done + self.cached + self.failed

    @property
    def remaining(self) -> int:
        return self.pending + self.in_flight + self.retrying

    @property
    def progress(self) -> float:
        """Finished / total, between 0 and 1 (0 when there is nothing to do)."""
        return self.finished / self.total if self.total else 0.0

    @property
    def cost(self) -> float | None:
        """Dollars spent, or None when some call's price is unknown."""
        return self.cost_usd if self.cost_known else None

    @property
    def spend_fraction(self) -> float | None:
        """Spend / budget, or None without a budget."""
        return self.cost_usd / self.budget_usd if self.budget_usd else None

    @property
    def elapsed_s(self) -> float | None:
        """Seconds from the first to the last event of this burst."""
        if self.started_at is None or self.updated_at is None:
            return None
        return max(0.0, self.updated_at - self.started_at)

    def _prune(self, now: float) -> None:
        while self._window and self._window[0][0] < now - WINDOW_S:
            self._window.popleft()

    def _span(self, now: float) -> float:
        start = self._sent_at if self._sent_at is not None else now
        return max(0.5, min(WINDOW_S, now - start))

    def requests_per_s(self, now: float) -> float:
        """Calls answered per second over the last ``WINDOW_S`` seconds."""
        if self.snap_rates is not None:
            return self.snap_rates[0]
        self._prune(now)
        return sum(b[1] for b in self._window) / self._span(now) if self._window else 0.0

    def tokens_per_s(self, now: float) -> float:
        if self.snap_rates is not None:
            return self.snap_rates[1]
        self._prune(now)
        return sum(b[2] for b in self._window) / self._span(now) if self._window else 0.0

    def eta_s(self, now: float) -> float | None:
        """Seconds until the remaining jobs are done at the current rate; None when unknown."""
        if self.snap_rates is not None:
            return self.snap_rates[2]
        if not self.remaining:
            return 0.0
        rate = self.requests_per_s(now)
        return self.remaining / rate if rate > 0 else None

    def waiting_on(self, now: float | None = None) -> str | None:
        """What the broker is waiting for, when it is not plainly making progress: a call in flight
        for ``STALL_S`` seconds or more, or every remaining call waiting for its retry; else None."""
        now = self.clock() if now is None else now
        if self.state == "paused":
            return "paused: press resume (or broker.resume()) to send more"
        sent = [now - t for k, t in self._since.items() if self._stage.get(k) == "in_flight"]
        if sent and max(sent) >= STALL_S:
            n = len(sent)
            return (f"waiting on {self.name}: {n} call{'s' if n > 1 else ''} in flight, "
                    f"the oldest for {format_wait(max(sent))}")  # fmt: skip
        due = [t - now for k, t in self._since.items() if self._stage.get(k) == "retrying"]
        if due and not self.in_flight and not self.pending:
            last = self.last_errors[-1] if self.last_errors else ""
            return f"retrying in {format_wait(max(0.0, min(due)))}" + (f" after {last}" if last else "")
        return None

    def copy(self) -> PanelState:
        """An independent copy (views render copies, events keep updating the original)."""
        return replace(self, _window=deque(list(b) for b in self._window), _stage=dict(self._stage),
                       _since=dict(self._since))  # fmt: skip

    # --- building ------------------------------------------------------------------------------

    def apply(self, event: Event, now: float) -> None:
        """Update the counts from one broker event observed at time ``now``."""
        starts = isinstance(event, (CallsQueued, CallsCached, CallSent)) or (
            isinstance(event, BrokerStateChanged) and event.state == "running"
        )
        if starts and self._burst_over:  # new work after the last burst ended: count afresh
            self._reset()
        if self.started_at is None:
            self.started_at = now
        self.updated_at = now
        if isinstance(event, CallsQueued):
            self.pending += event.n
        elif isinstance(event, CallsCached):
            self.cached += event.n
        elif isinstance(event, CallSent):
            if self._stage.get(event.key) == "retrying":
                self.retrying = max(0, self.retrying - 1)
            else:
                self.pending = max(0, self.pending - 1)
            self._stage[event.key] = "in_flight"
            self._since[event.key] = now
            self.in_flight += 1
            if self._sent_at is None:
                self._sent_at = now
        elif isinstance(event, CallDone):
            self._leave(event.key)
            self.done += 1
            self.input_tokens += event.input_tokens
            self.output_tokens += event.output_tokens
            if event.cost_usd is None:
                self.cost_known = False
            else:
                self.cost_usd += event.cost_usd
            self._tick(now, event.input_tokens + event.output_tokens)
        elif isinstance(event, CallRetrying):
            self._leave(event.key)
            self._stage[event.key] = "retrying"
            self._since[event.key] = now + event.delay_s
            self.retrying += 1
            self._error(f"attempt {event.attempt}: {event.error}")
        elif isinstance(event, CallFailed):
            self._leave(event.key)
            self.failed += 1
            self._error(event.error)
        elif isinstance(event, BrokerStateChanged):
            self._state_changed(event)

    def _leave(self, key: str) -> None:
        self._since.pop(key, None)
        stage = self._stage.pop(key, "in_flight")
        if stage == "retrying":
            self.retrying = max(0, self.retrying - 1)
        else:
            self.in_flight = max(0, self.in_flight - 1)

    def _state_changed(self, event: BrokerStateChanged) -> None:
        self.state = event.state
        budget = event.detail.get("budget_usd") if isinstance(event.detail, dict) else None
        if budget is not None:
            self.budget_usd = float(budget)
        if event.state in ("cancelled", "budget", "idle"):
            self.pending = 0  # queued jobs are dropped unsent, without an event each
        if event.state == "idle":
            self.in_flight = self.retrying = 0
            self._stage.clear()
            self._since.clear()
            self._burst_over = True
        elif event.state in ("cancelled", "budget"):
            self._burst_over = True

    def _reset(self) -> None:
        self.pending = self.in_flight = self.done = self.cached = self.failed = self.retrying = 0
        self.input_tokens = self.output_tokens = 0
        self.cost_usd, self.cost_known = 0.0, True
        self.last_errors = ()
        self.started_at = self.updated_at = self._sent_at = None
        self._window.clear()
        self._stage.clear()
        self._since.clear()
        self._burst_over = False

    def _tick(self, now: float, tokens: int) -> None:
        w = self._window
        if w and now - w[-1][0] < _BUCKET_S:
            w[-1][1] += 1
            w[-1][2] += tokens
        else:
            w.append([now, 1, tokens])
        self._prune(now)

    def _error(self, message: str) -> None:
        self.last_errors = (*self.last_errors, redact(message))[-MAX_ERRORS:]

    @classmethod
    def from_snapshot(cls, snap: Any, *, now: float | None = None) -> PanelState:
        """A state from a broker's ``snapshot()`` (any object with the ``BrokerSnapshot`` fields).

        The snapshot's ``started_at`` is wall-clock time, so ``updated_at`` is ``now`` (default
        ``time.time()``) and :attr:`elapsed_s` is the time since the burst started.
        """

        def get(name: str, default: Any = 0) -> Any:
            value = getattr(snap, name, default)
            return default if value is None else value

        started = getattr(snap, "started_at", None)
        return cls(
            name=str(get("name", "broker")),
            state=str(get("state", "idle")),
            pending=int(get("pending")),
            in_flight=int(get("in_flight")),
            done=int(get("done")),
            cached=int(get("cached")),
            failed=int(get("failed")),
            retrying=int(get("retrying")),
            input_tokens=int(get("input_tokens")),
            output_tokens=int(get("output_tokens")),
            cost_usd=float(get("cost_usd", 0.0)),
            cost_known=bool(get("cost_known", True)),
            budget_usd=getattr(snap, "budget_usd", None),
            last_errors=tuple(redact(e) for e in get("last_errors", ()))[-MAX_ERRORS:],
            concurrency=int(get("concurrency")) or None,
            adaptive=bool(get("adaptive", False)),
            started_at=started,
            updated_at=(time.time() if now is None else now) if started is not None else None,
            snap_rates=(
                float(get("requests_per_s", 0.0)),
                float(get("tokens_per_s", 0.0)),
                getattr(snap, "eta_s", None),
            ),
        )


class BrokerStates:
    """Event subscriber keeping one :class:`PanelState` per broker name (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._states: dict[str, PanelState] = {}
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def __call__(self, event: Event) -> None:
        name = getattr(event, "broker", None)
        if name is None:
            return
        now = self.clock()
        with self._lock:
            st = self._states.get(name)
            if st is None:
                st = self._states[name] = PanelState(name, clock=self.clock)
            st.apply(event, now)

    def subscribe(self, bus: Any = None) -> BrokerStates:
        """Start listening on ``bus`` (default :data:`bfnb.events.bus`)."""
        if self._unsubscribe is None:
            if bus is None:
                from bfnb.events import bus
            self._unsubscribe = bus.subscribe(self)
        return self

    def unsubscribe(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def get(self, name: str) -> PanelState | None:
        with self._lock:
            st = self._states.get(name)
            return st.copy() if st is not None else None

    def collect(self, brokers: Iterable[Any] = ()) -> list[PanelState]:
        """Copies of the states: from each broker's ``snapshot()`` when it has one, else from events.

        Brokers only seen through events follow the given ones, in order of first event.
        """
        out: list[PanelState] = []
        seen: set[str] = set()
        for b in brokers:
            snap = getattr(b, "snapshot", None)
            try:
                snapshot = snap() if callable(snap) else None
            except Exception:  # a broker that cannot report: fall back to its events
                snapshot = None
            if snapshot is not None:
                st = PanelState.from_snapshot(snapshot)
                with self._lock:
                    ev = self._states.get(st.name)
                    if ev is not None:  # what waits, and since when, is only known from events
                        st._stage, st._since, st.clock = dict(ev._stage), dict(ev._since), ev.clock
                    if ev is not None and ev._window:  # events give smoother rates than a young snapshot
                        st.snap_rates, st._sent_at = None, ev._sent_at
                        st._window = deque(list(w) for w in ev._window)
            else:
                st = self.get(str(getattr(b, "name", b))) or PanelState(str(getattr(b, "name", b)))
            seen.add(st.name)
            out.append(st)
        with self._lock:
            out += [s.copy() for name, s in self._states.items() if name not in seen]
        return out

    def now(self) -> float:
        """The current time on this collector's clock (what rates and ETAs are measured against)."""
        return self.clock()
