"""Where broker ops announce work, so a UI (live panel, text bar) can show it.

The op layer never imports the UI.  The notebook layer installs a ``show`` callable that opens a
panel or a progress bar for the brokers that are working; by default nothing is shown.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["active", "active_brokers", "set_display"]

_active: list[Any] = []
_lock = threading.Lock()
_display: Callable[[Callable[[], list[Any]]], Any] | None = None


def set_display(factory: Callable[[Callable[[], list[Any]]], Any] | None) -> None:
    """Install a factory ``(brokers_getter) -> context manager`` that shows live progress."""
    global _display
    _display = factory


def active_brokers() -> list[Any]:
    with _lock:
        return list(_active)


@contextlib.contextmanager
def active(broker: Any) -> Iterator[None]:
    with _lock:
        first = not _active
        _active.append(broker)
    cm = _display(active_brokers) if (_display is not None and first) else contextlib.nullcontext()
    try:
        with cm:
            yield
    finally:
        with _lock:
            _active.remove(broker)
