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
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["active", "run_scope", "set_display"]

_display: Callable[[Callable[[], list[Any]]], Any] | None = None


class _Scope:
    def __init__(self, show: bool) -> None:
        self.show = show
        self.brokers: list[Any] = []
        self.display: Any = None


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("bfnb_progress_scope", default=None)


def set_display(factory: Callable[[Callable[[], list[Any]]], Any] | None) -> None:
    """Install the factory that shows live progress (None: show nothing)."""
    global _display
    _display = factory


def _wanted() -> bool:
    from ..options import options

    return _display is not None and options.progress


@contextlib.contextmanager
def run_scope(*, background: bool = False) -> Iterator[None]:
    """One top-level run: at most one display, opened when the first broker starts, closed at the end."""
    if _scope.get() is not None:  # a nested run belongs to the enclosing scope
        yield
        return
    scope = _Scope(show=not background)
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
        if broker not in scope.brokers:
            scope.brokers.append(broker)
        if scope.show and scope.display is None and _wanted():
            brokers = scope.brokers
            scope.display = _display(lambda: list(brokers))  # type: ignore[misc]
            scope.display.__enter__()
    elif _wanted():
        own = _display(lambda: [broker])  # type: ignore[misc]
        own.__enter__()
    try:
        yield
    finally:
        if own is not None:
            own.__exit__(None, None, None)
