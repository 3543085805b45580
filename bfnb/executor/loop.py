"""One background asyncio loop thread for all async work of the process.

Why a thread and not ``nest_asyncio``: Jupyter, VS Code and Colab kernels already run an event
loop in the main thread, where ``asyncio.run`` raises.  Running bfnb's own loop in a daemon thread
works the same in a kernel and in a script, needs no patching of asyncio, keeps the kernel's loop
free so widget buttons (pause, cancel) are handled while a run is going on, and makes background
runs (``g.run(background=True)``) a matter of not waiting for the future.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["get_loop", "run_sync", "submit"]

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def get_loop() -> asyncio.AbstractEventLoop:
    """The process-wide bfnb event loop, started on first use."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def _run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=_run, name="bfnb-loop", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop


def in_loop_thread() -> bool:
    try:
        return asyncio.get_running_loop() is _loop
    except RuntimeError:
        return False


def submit(coro: Coroutine[Any, Any, T]) -> Future[T]:
    """Schedule ``coro`` on the bfnb loop; returns a concurrent future."""
    return asyncio.run_coroutine_threadsafe(coro, get_loop())


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the bfnb loop and wait for it.

    On KeyboardInterrupt (the notebook's stop button) the coroutine is cancelled and the
    interrupt re-raised; the coroutine's own cleanup runs before this returns, so completed calls
    are already in the ledger.
    """
    if in_loop_thread():
        raise RuntimeError("run_sync() called from the bfnb loop thread; await the coroutine instead")
    fut = submit(coro)
    try:
        return fut.result()
    except KeyboardInterrupt:
        fut.cancel()
        with contextlib.suppress(BaseException):
            fut.result(timeout=10)
        raise
