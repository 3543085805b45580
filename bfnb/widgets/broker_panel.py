"""The live broker panel (ipywidgets) and ``live_progress``, which falls back to tqdm outside Jupyter.

Needs the ``notebook`` extra (ipywidgets) for the panel; ipywidgets and IPython are imported only
when a panel is built or a kernel is detected, never by ``import bfnb``.  The panel is a view:
:class:`~bfnb.widgets.state.BrokerStates` turns events and snapshots into
:class:`~bfnb.widgets.state.PanelState`\\ s, the pure functions :func:`detail_html` and
:func:`bar_style` say how a state looks, and a :class:`PanelRefresher` copies
them into the widgets about four times a second from a background thread (ipykernel sends trait
changes made on any thread, so the panel moves during a blocking run as well as a background one).
Buttons forward clicks to the broker (:mod:`bfnb.widgets.controls`).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from bfnb.display.html import el
from bfnb.display.text import TextProgress, format_compact, format_cost, format_seconds

from .controls import Controls
from .state import BrokerStates, PanelState

__all__ = [
    "BrokerPanel",
    "PanelRefresher",
    "bar_style",
    "detail_html",
    "in_kernel",
    "live_progress",
    "watch_background",
]

BrokersGetter = Callable[[], Iterable[Any]]
_COUNTS = ("pending", "in_flight", "done", "cached", "failed", "retrying")


def bar_style(st: PanelState) -> str:
    """The progress bar colour: running info, paused/stopped warning, failures danger, else success."""
    if st.state in ("paused", "cancelled", "budget"):
        return "warning"
    if st.remaining:
        return "info"
    if st.failed:
        return "danger"
    return "success" if st.total else ""


def detail_html(st: PanelState, now: float) -> str:
    """Counts, rates, spend, ETA and last errors of one broker as (escaped) HTML."""
    counts = " · ".join(f"{c.replace('_', ' ')} {getattr(st, c):,}" for c in _COUNTS)
    spend = f"spend {format_cost(st.cost)}"
    if st.budget_usd:
        spend += f" of {format_cost(st.budget_usd)} budget ({st.spend_fraction or 0:.0%})"
    rates = f"{st.requests_per_s(now):.1f} req/s · {format_compact(st.tokens_per_s(now))} tok/s"
    if st.concurrency:
        rates += f" · concurrency {st.concurrency:,}{' (adaptive)' if st.adaptive else ''}"
    parts = [el("div", counts), el("div", rates, " · ", spend, *_eta(st, now))]
    waiting = st.waiting_on(now)
    if waiting:
        parts.append(el("div", "⏳ ", waiting))
    if st.last_errors:
        items = [el("div", "⚠ ", e, style="color:var(--jp-error-color1,#d32f2f)") for e in st.last_errors]
        parts.append(el("details", el("summary", f"last {len(items)} errors"), *items))
    return el("div", *parts, style="font-family:var(--jp-code-font-family,monospace);font-size:12px")


def _eta(st: PanelState, now: float) -> list[str]:
    if not st.remaining:
        return []
    return [f" · ETA {format_seconds(st.eta_s(now))}"]


def _title_html(st: PanelState) -> str:
    return el("div", el("b", st.name), f" · {st.state} · {st.finished:,} of {st.total:,}")


class PanelRefresher:
    """Calls ``refresh()`` from a daemon thread every ``interval`` seconds until stopped.

    ``until`` (optional) is polled too: when it returns True the refresher stops by itself after
    a last refresh, as it does on :meth:`stop`; ``on_finish`` is then called once (e.g. to
    unsubscribe from events).  A failing refresh never stops the run it shows.
    """

    def __init__(
        self,
        refresh: Callable[[], None],
        *,
        interval: float = 0.25,
        until: Callable[[], bool] | None = None,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        self.refresh = refresh
        self.interval = interval
        self.until = until
        self.on_finish = on_finish
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._final_lock = threading.Lock()
        self._finalized = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> PanelRefresher:
        if self._thread is None:
            self._stop.clear()
            self._finalized = False
            self._thread = threading.Thread(target=self._loop, name="bfnb-panel-refresh", daemon=True)
            self._thread.start()
        return self

    def _safe_refresh(self) -> None:
        with contextlib.suppress(Exception):  # a broken display must not break a paid run
            self.refresh()

    def _finish(self, refresh: bool) -> None:
        with self._final_lock:
            if self._finalized:
                return
            self._finalized = True
            if refresh:
                self._safe_refresh()
            if self.on_finish is not None:
                with contextlib.suppress(Exception):
                    self.on_finish()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._safe_refresh()
            if self.until is not None:
                try:
                    finished = bool(self.until())
                except Exception:
                    finished = True
                if finished:
                    self._stop.set()
                    self._finish(refresh=True)

    def stop(self, *, final: bool = True) -> None:
        """Stop the thread; ``final`` makes one last refresh (at most once)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._finish(refresh=final)


class _Row:
    """Widgets of one broker: title, progress bar, details, buttons."""

    def __init__(self, st: PanelState, broker: Any) -> None:
        import ipywidgets as w

        self.title = w.HTML()
        self.bar = w.IntProgress(min=0, max=1, value=0, layout=w.Layout(width="min(100%, 40em)"))
        self.detail = w.HTML()
        self.controls = Controls(broker) if broker is not None else None
        kids = [self.title, self.bar, self.detail] + ([self.controls.box] if self.controls else [])
        self.box = w.VBox(kids, layout=w.Layout(margin="0 0 8px 0"))

    def update(self, st: PanelState, now: float) -> None:
        self.title.value = _title_html(st)
        total = max(st.total, 1)
        if self.bar.max != total:
            if self.bar.value > total:
                self.bar.value = 0
            self.bar.max = total
        self.bar.value = min(st.finished, total)
        self.bar.bar_style = bar_style(st)
        self.detail.value = detail_html(st, now)
        if self.controls is not None:
            self.controls.update(st)


class BrokerPanel:
    """One row per broker: progress, counts, req/s and tok/s, spend vs budget, ETA, errors, buttons.

    ``brokers_getter`` returns the broker objects to show (duck-typed: ``name``, ``snapshot()``,
    ``pause()``, ``resume()``, ``cancel()``, ``retry_failed()``); brokers only seen through events
    get a row without buttons.  :meth:`attach` starts live refreshing, :meth:`detach` stops it
    after a final update.
    """

    def __init__(self, brokers_getter: BrokersGetter | None = None, *, states: BrokerStates | None = None) -> None:
        import ipywidgets as w

        self.brokers_getter: BrokersGetter = brokers_getter or (lambda: ())
        self.states = states if states is not None else BrokerStates()
        self.widget = w.VBox([])
        self._rows: dict[str, _Row] = {}
        self._names: list[str] = []
        self._lock = threading.Lock()
        self._refresher: PanelRefresher | None = None
        self._below: tuple[Any, ...] = ()
        self._extras: list[Callable[[], None]] = []

    def add_below(self, widget: Any, refresh: Callable[[], None] | None = None) -> None:
        """Show ``widget`` under the broker rows; ``refresh()`` is called after each panel refresh."""
        with self._lock:
            self._below += (widget,)
            self.widget.children = tuple(self._rows[n].box for n in self._names) + self._below
        if refresh is not None:
            self._extras.append(refresh)

    def refresh(self) -> None:
        """Copy the current states into the widgets (any thread)."""
        brokers = list(self.brokers_getter())
        by_name = {str(getattr(b, "name", b)): b for b in brokers}
        states = self.states.collect(brokers)
        now = self.states.now()
        with self._lock:
            for st in states:
                row = self._rows.get(st.name)
                if row is None:
                    row = self._rows[st.name] = _Row(st, by_name.get(st.name))
                row.update(st, now)
            names = [st.name for st in states]
            if names != self._names:
                self._names = names
                self.widget.children = tuple(self._rows[n].box for n in names) + self._below
        for extra in self._extras:
            with contextlib.suppress(Exception):  # a broken table must not stop the panel
                extra()

    def attach(
        self,
        brokers_getter: BrokersGetter | None = None,
        *,
        until: Callable[[], bool] | None = None,
        interval: float = 0.25,
    ) -> BrokerPanel:
        """Listen to events and refresh every ``interval`` s until :meth:`detach` (or ``until()``)."""
        if brokers_getter is not None:
            self.brokers_getter = brokers_getter
        self.states.subscribe()
        self.refresh()
        if self._refresher is None:
            self._refresher = PanelRefresher(
                self.refresh, interval=interval, until=until, on_finish=self.states.unsubscribe
            ).start()
        return self

    def detach(self) -> None:
        """Stop refreshing after one final update."""
        refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.stop(final=True)
        else:
            self.refresh()
        self.states.unsubscribe()

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def __repr__(self) -> str:
        return f"BrokerPanel(brokers={self._names!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)  # deterministic, unlike the widget's own repr
        return bundle


def in_kernel() -> bool:
    """True inside a Jupyter kernel (IPython with a ``kernel``) where ipywidgets can be imported."""
    if "IPython" not in sys.modules:  # a kernel has always imported it; don't import it ourselves
        return False
    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is None or not hasattr(ip, "kernel"):
            return False
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def live_progress(
    brokers_getter: BrokersGetter,
    *,
    file: IO[str] | None = None,
    text: bool | None = None,
    interval: float = 0.25,
) -> Iterator[BrokerPanel | TextProgress]:
    """Show broker progress while the block runs: a live panel in Jupyter, tqdm bars elsewhere.

    ``text=True`` forces the text bars (``False`` forces the panel).  Outside Jupyter one summary
    line per broker that worked during the block is printed to ``file`` (stderr) at the end.
    """
    use_panel = in_kernel() if text is None else not text
    if use_panel:
        from IPython.display import display

        from bfnb.op.progress import current_partial

        from .partial_view import RowsSoFar

        panel = BrokerPanel(brokers_getter)
        partial = current_partial()
        table = RowsSoFar.of_partial(partial) if partial is not None else None
        if table is not None:  # the answers so far, under the panel, while the run blocks the cell
            panel.add_below(table.widget, table.refresh)
        panel.attach(interval=interval)
        display(panel)
        try:
            yield panel
        finally:
            panel.detach()
            if table is not None:
                table.clear()  # the cell shows the whole result next
        return
    states = BrokerStates().subscribe()
    before = {st.name: _mark(st) for st in states.collect(brokers_getter())}

    def active() -> list[PanelState]:
        return [st for st in states.collect(brokers_getter()) if st.total and before.get(st.name) != _mark(st)]

    progress = TextProgress(active, file=file)
    refresher = PanelRefresher(progress.refresh, interval=interval).start()
    try:
        yield progress
    finally:
        refresher.stop(final=False)
        progress.close()
        states.unsubscribe()


def watch_background(handle: Any, brokers_getter: BrokersGetter) -> Any:
    """Show a live panel for a background run in Jupyter (until ``handle.done()``); returns ``handle``.

    Outside Jupyter nothing is shown: text bars would interleave with whatever the script prints.
    """
    if in_kernel():
        from IPython.display import display

        from .partial_view import RowsSoFar

        panel, table = BrokerPanel(brokers_getter), None
        if hasattr(handle, "partial"):  # the answers so far (a preview's rows and its resume button)
            table = RowsSoFar.of_handle(handle)
            panel.add_below(table.widget, table.refresh)
            rows_so_far = table

            def refresh_both(_: object) -> None:
                panel.refresh()
                rows_so_far.refresh(force=True)

            handle.add_rest_callback(refresh_both)
        panel.attach(until=handle.done)
        display(panel)
        if hasattr(handle, "add_done_callback"):  # the final state, sent before handle.wait() returns
            handle.add_done_callback(lambda _: panel.detach())
    return handle


def _mark(st: PanelState) -> tuple[Any, ...]:
    """What identifies a broker's burst of work, to tell brokers that worked during a block."""
    return (st.started_at, st.total, st.finished, st.state)


if __name__ == "__main__":  # the text fallback, live: python -m bfnb.widgets.broker_panel
    import random
    import time as _time

    from bfnb.brokers.broker import Job
    from bfnb.brokers.config import RateLimits
    from bfnb.brokers.function import FunctionBroker
    from bfnb.executor.loop import run_sync

    def _answer(request: dict[str, Any]) -> dict[str, Any]:
        _time.sleep(random.uniform(0.01, 0.05))
        return {"usage": {"prompt_tokens": 120, "completion_tokens": 30}}

    demo = FunctionBroker(_answer, name="chat demo@local", limits=RateLimits(concurrency=4), prices=(0.15, 0.6))
    with live_progress(lambda: [demo], text=True):
        demo.note_cached(10)
        run_sync(demo.run([Job(f"k{i}", "chat", {"i": i}) for i in range(100)], on_record=lambda r: None))
