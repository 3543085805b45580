"""Where broker ops announce work, so a UI (live panel, text bar) can show it.

The op layer never imports the UI.  The notebook layer installs a display factory
``(brokers_getter) -> context manager`` that opens a panel or a progress bar.  A top-level run is
one *scope*: the first broker that starts sending calls opens one display for the whole run, which
lists every broker that worked in it and closes when the run ends.  A background run shows its own
panel (``watch_background``), so its worker opens none; ``bf.options.progress = False`` turns the
display off.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ThisRun", "active", "current_partial", "run_scope", "set_brokers", "set_display", "since_now"]

_display: Callable[[Callable[[], list[Any]]], Any] | None = None
_all_brokers: Callable[[], list[Any]] | None = None

#: snapshot fields that add up over a broker's session; a run's display shows their growth only
_COUNTS = ("done", "cached", "failed", "input_tokens", "output_tokens", "cost_usd")


class ThisRun:
    """A broker as one run sees it: counts since the run began, not since the kernel started.

    A broker is shared by every run of the process and counts per session, and a session can
    outlive a run (ledger hits noted in a run that sent nothing leave it open).  The run's display
    therefore subtracts what the broker had counted when the run began, unless the broker has
    started a new session since (its counts then began inside this run).  Everything else (name,
    pause, resume, cancel, retry) is the broker's own.
    """

    def __init__(self, broker: Any, baseline: Any = None) -> None:
        self.broker = broker
        self.baseline = baseline

    def snapshot(self) -> Any:
        snap = self.broker.snapshot()
        base = self.baseline
        if base is None or getattr(snap, "started_at", None) != getattr(base, "started_at", None):
            return snap
        import dataclasses

        delta = {k: max(0, getattr(snap, k) - getattr(base, k)) for k in _COUNTS if hasattr(snap, k)}
        errors = tuple(getattr(snap, "last_errors", ()))
        old = tuple(getattr(base, "last_errors", ()))
        if old and errors[: len(old)] == old:
            delta["last_errors"] = errors[len(old) :]
        return dataclasses.replace(snap, **delta)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.broker, name)

    def __eq__(self, other: object) -> bool:
        return (other.broker if isinstance(other, ThisRun) else other) is self.broker

    def __hash__(self) -> int:
        return id(self.broker)

    def __repr__(self) -> str:
        return f"ThisRun({self.broker!r})"


def since_now(getter: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
    """``getter``'s brokers as seen from now on: each counts what it does after this call (a run's view).

    A background run's panel lists the process's brokers; without this it would show what they
    counted since the kernel started ("12 of 12" after a run that sent 7).
    """
    baselines: dict[int, Any] = {}
    for b in getter():
        with contextlib.suppress(Exception):  # a broker that cannot report is shown as it reports
            baselines[id(b)] = b.snapshot()
    return lambda: [ThisRun(b, baselines.get(id(b))) for b in getter()]


class _Scope:
    def __init__(self, show: bool, partial: Any = None) -> None:
        self.show = show
        self.partial = partial  # the run's bfnb.executor.partial.Partial: rows done so far, for a live table
        self.brokers: list[Any] = []
        self.display: Any = None
        self.baselines: dict[int, Any] = {}
        if _all_brokers is not None:
            for b in _all_brokers():
                try:
                    self.baselines[id(b)] = b.snapshot()
                except Exception:  # a broker that cannot report is shown as it reports
                    continue

    def add(self, broker: Any) -> None:
        if not any(getattr(b, "broker", b) is broker for b in self.brokers):
            self.brokers.append(ThisRun(broker, self.baselines.get(id(broker))))


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("bfnb_progress_scope", default=None)
#: the stream engine runs a broker op's chunks in threads that share one scope: one display, entered once
_display_lock = threading.Lock()


def set_display(factory: Callable[[Callable[[], list[Any]]], Any] | None) -> None:
    """Install the factory that shows live progress (None: show nothing)."""
    global _display
    _display = factory


def set_brokers(getter: Callable[[], list[Any]] | None) -> None:
    """Install the function listing the process's brokers (read when a run begins, for its baselines)."""
    global _all_brokers
    _all_brokers = getter


def _wanted() -> bool:
    from ..options import options

    return _display is not None and options.progress


def current_partial() -> Any:
    """The running top-level run's partial results (for a display opened inside it), or None."""
    scope = _scope.get()
    return scope.partial if scope is not None else None


@contextlib.contextmanager
def run_scope(*, background: bool = False, partial: Any = None) -> Iterator[None]:
    """One top-level run: at most one display, opened when the first broker starts, closed at the end."""
    if _scope.get() is not None:  # a nested run belongs to the enclosing scope
        yield
        return
    scope = _Scope(show=not background, partial=partial)
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)
        if scope.display is not None:
            scope.display.__exit__(None, None, None)


@contextlib.contextmanager
def active(broker: Any) -> Iterator[None]:
    """Show ``broker`` in the run's display while it sends calls (the block)."""
    scope = _scope.get()
    own: Any = None
    if scope is not None:
        with _display_lock:
            scope.add(broker)
            if scope.show and scope.display is None and _wanted():
                brokers = scope.brokers
                shown = _display(lambda: list(brokers))  # type: ignore[misc]
                shown.__enter__()
                scope.display = shown
    elif _wanted():
        own = _display(lambda: [broker])  # type: ignore[misc]
        own.__enter__()
    try:
        yield
    finally:
        if own is not None:
            own.__exit__(None, None, None)
