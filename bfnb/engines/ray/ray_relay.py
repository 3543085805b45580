"""Workers' broker progress, shown on the driver as a local run's is: the panel and text bars.

A broker on a Ray worker emits its events (:mod:`bfnb.events`) on the worker's own bus, which no
panel listens to.  Three small parts carry them to the notebook:

* :class:`WorkerSink` (on a worker) listens to that bus and keeps, per broker, running totals
  (done, cached, failed, tokens, spend, errors) plus what is waiting or in flight, and pushes them
  to the hub actor every ``PUSH_S`` seconds and when a batch ends (``flush``).  Totals are
  cumulative per sink, so a push lost or repeated changes nothing: the hub keeps each sink's
  latest, and each call is counted by the one sink that saw it (spend counted once);
* :class:`RunBoard` (in the hub) holds the latest totals of every sink of a run and adds them up
  per broker name;
* :class:`RelayedBroker` (on the driver) is what the panel lists: a broker-like object whose
  ``snapshot()`` is the board's sum (fetched at most every ``FETCH_S``), with rates and an ETA
  measured on the driver, and ``pause``/``resume`` buttons that reach every worker through the
  hub (a paused worker's limiter admits nothing).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from ...brokers.broker import BrokerSnapshot
from ...events import BrokerStateChanged, CallDone, CallFailed, CallRetrying, CallsCached, CallSent, CallsQueued, Event

__all__ = ["PUSH_S", "RelayedBroker", "RunBoard", "Tally", "WorkerSink"]

PUSH_S = 0.25  #: how often a worker sends its totals while its brokers work
FETCH_S = 0.2  #: how stale a driver-side snapshot may be
_COUNTS = ("pending", "in_flight", "retrying", "done", "cached", "failed", "input_tokens", "output_tokens")


class Tally:
    """One broker's totals as one worker saw them (from its events)."""

    __slots__ = (*_COUNTS, "cost_known", "cost_usd", "errors", "started_at", "state", "_stage")

    def __init__(self) -> None:
        self.pending = self.in_flight = self.retrying = 0
        self.done = self.cached = self.failed = self.input_tokens = self.output_tokens = 0
        self.cost_usd, self.cost_known = 0.0, True
        self.errors: deque[str] = deque(maxlen=5)
        self.started_at = time.time()
        self.state = "running"
        self._stage: dict[str, str] = {}  # key -> "in_flight" | "retrying"

    def apply(self, event: Event) -> None:
        if isinstance(event, CallsQueued):
            self.pending += event.n
            self.state = "running"
        elif isinstance(event, CallsCached):
            self.cached += event.n
        elif isinstance(event, CallSent):
            if self._stage.get(event.key) == "retrying":
                self.retrying -= 1
            else:
                self.pending -= 1
            self._stage[event.key] = "in_flight"
            self.in_flight += 1
        elif isinstance(event, CallDone):
            self._leave(event.key)
            self.done += 1
            self.input_tokens += event.input_tokens
            self.output_tokens += event.output_tokens
            if event.cost_usd is None:
                self.cost_known = False
            else:
                self.cost_usd += event.cost_usd
        elif isinstance(event, CallRetrying):
            self._leave(event.key)
            self._stage[event.key] = "retrying"
            self.retrying += 1
            self.errors.append(f"attempt {event.attempt}: {event.error}")
        elif isinstance(event, CallFailed):
            self._leave(event.key)
            self.failed += 1
            self.errors.append(event.error)
        elif isinstance(event, BrokerStateChanged):
            self.state = event.state
            if event.state in ("idle", "cancelled", "budget"):
                self.pending = 0  # queued jobs are dropped unsent, without an event each
            if event.state == "idle":
                self.in_flight = self.retrying = 0
                self._stage.clear()

    def _leave(self, key: str) -> None:
        if self._stage.pop(key, "in_flight") == "retrying":
            self.retrying -= 1
        else:
            self.in_flight -= 1

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: max(0, getattr(self, k)) for k in _COUNTS}
        d.update(cost_usd=self.cost_usd, cost_known=self.cost_known, errors=list(self.errors))
        d.update(started_at=self.started_at, state=self.state)
        return d


class WorkerSink:
    """Totals of this worker process's brokers for one run, pushed to the hub (thread-safe)."""

    def __init__(self, push: Callable[[str, dict[str, dict[str, Any]]], Any], bus: Any = None) -> None:
        if bus is None:
            from ...events import bus
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._push = push  # (worker, totals) -> sends them (a Ray call); its result is waited for by flush
        self._tallies: dict[str, Tally] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._last_event = time.monotonic()
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pusher, name="bfnb-relay", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        name = getattr(event, "broker", None)
        if name is None:
            return
        with self._lock:
            tally = self._tallies.get(name)
            if tally is None:
                tally = self._tallies[name] = Tally()
            tally.apply(event)
            self._dirty = True
            self._last_event = time.monotonic()

    def totals(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            self._dirty = False
            return {name: t.as_dict() for name, t in self._tallies.items()}

    def flush(self) -> None:
        """Send the totals now and wait until the hub has them (a batch ends: the driver may look next)."""
        result = self._push(self.worker, self.totals())
        if result is not None:
            import ray

            ray.get(result)

    @property
    def idle_s(self) -> float:
        return time.monotonic() - self._last_event

    def close(self) -> None:
        """Stop listening (after a last flush)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        if self._tallies:
            self.flush()

    def _pusher(self) -> None:
        while not self._stop.wait(PUSH_S):
            if self._dirty:
                try:
                    self._push(self.worker, self.totals())
                except Exception:  # the driver went away; the run itself reports that
                    return


class RunBoard:
    """The latest totals of every sink of one run, added up per broker (lives in the hub)."""

    def __init__(self) -> None:
        self.by_worker: dict[str, dict[str, dict[str, Any]]] = {}

    def push(self, worker: str, totals: dict[str, dict[str, Any]]) -> None:
        self.by_worker[worker] = totals

    def collect(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for totals in self.by_worker.values():
            for name, t in totals.items():
                s = out.get(name)
                if s is None:
                    out[name] = {**t, "errors": list(t["errors"]), "workers": 1, "states": [t["state"]]}
                    continue
                for k in (*_COUNTS, "cost_usd"):
                    s[k] += t[k]
                s["cost_known"] = s["cost_known"] and t["cost_known"]
                s["errors"] = (s["errors"] + list(t["errors"]))[-5:]
                s["started_at"] = min(s["started_at"], t["started_at"])
                s["workers"] += 1
                s["states"].append(t["state"])
        for s in out.values():
            states = s.pop("states")
            s["state"] = next((x for x in ("running", "paused", "budget", "cancelled") if x in states), "idle")
        return out


class RelayedBroker:
    """One broker as the workers of one run report it: what the driver's panel lists.

    ``fetch()`` returns the summed totals by broker name (a call to the hub); ``control(name,
    state)`` sets "running"/"paused"/"cancelled" for every worker's limiter.
    """

    def __init__(
        self,
        name: str,
        fetch: Callable[[], dict[str, dict[str, Any]]],
        control: Callable[[str, str], None] | None = None,
        *,
        limits: Callable[[], tuple[int, bool]] | None = None,
    ) -> None:
        self.name = name
        self._fetch, self._control, self._limits = fetch, control, limits
        # a view starts at nothing: the display opened on it takes that as where the run began
        # (the workers may be done already when the driver first hears of them); the next look fetches
        self._cache: tuple[float, dict[str, Any]] | None = (time.monotonic(), {})
        self._history: deque[tuple[float, int, int]] = deque(maxlen=64)
        self._state: str | None = None  # set by the buttons until the workers report it

    def totals(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._cache is None or now - self._cache[0] >= FETCH_S:
            got = self._fetch().get(self.name) or {}
            self._cache = (now, got)
            if got:
                self._history.append((now, got["done"], got["input_tokens"] + got["output_tokens"]))
        return self._cache[1]

    def expire(self) -> None:
        """The next look fetches (the work ended: what is shown next must be final)."""
        self._cache = None

    def _rates(self) -> tuple[float, float]:
        h = [x for x in self._history if x[0] >= self._history[-1][0] - 10.0] if self._history else []
        if len(h) < 2 or h[-1][0] <= h[0][0]:
            return 0.0, 0.0
        dt = h[-1][0] - h[0][0]
        return (h[-1][1] - h[0][1]) / dt, (h[-1][2] - h[0][2]) / dt

    def snapshot(self) -> BrokerSnapshot:
        t = self.totals()
        rps, tps = self._rates()
        left = t.get("pending", 0) + t.get("in_flight", 0) + t.get("retrying", 0)
        concurrency, adaptive = self._limits() if self._limits is not None else (0, False)
        state = self._state or t.get("state", "idle")
        return BrokerSnapshot(
            self.name, state, t.get("pending", 0), t.get("in_flight", 0), t.get("done", 0),
            t.get("cached", 0), t.get("failed", 0), t.get("retrying", 0), t.get("input_tokens", 0),
            t.get("output_tokens", 0), t.get("cost_usd", 0.0), t.get("cost_known", True), rps, tps, None,
            (left / rps if rps > 0 else None) if left else 0.0, tuple(t.get("errors", ())),
            t.get("started_at", time.time()), concurrency, adaptive,
        )  # fmt: skip

    def pause(self) -> None:
        """Every worker's calls wait (calls in flight finish)."""
        self._command("paused")

    def resume(self) -> None:
        self._command("running")

    def _command(self, state: str) -> None:
        if self._control is None:
            raise RuntimeError(f"{self.name!r} runs on Ray workers and cannot be controlled from here")
        self._control(self.name, state)
        self._state = state if state != "running" else None
        self._cache = None

    @property
    def state(self) -> str:
        return str(self.totals().get("state", "idle"))

    def __repr__(self) -> str:
        return f"<RelayedBroker {self.name!r} (on Ray workers)>"
