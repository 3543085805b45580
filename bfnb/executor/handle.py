"""RunHandle: a run going on in a background thread, that can be looked at, paused at a preview, resumed.

``g.run(background=True)`` returns one at once; ``g.run(preview=N)`` returns one that has run the
graph on the first N entries (see :mod:`bfnb.executor.preview`) and waits, writing nothing, until it
is asked to go on (``handle.resume()`` or the panel's button): a bad prompt then costs N calls.
While it runs, ``handle.partial()`` gives the graph's output rows finished so far
(:mod:`bfnb.executor.partial`), and the notebook layer shows the same rows as a table that fills in.

States: ``"running"`` → (``"preview"`` → ``"running"``) → ``"done"``.  ``wait()`` returns when the
run comes to rest: done, or paused at its preview.  The handle knows no UI: the notebook layer
wraps it (``hooks.wrap_background``) and registers a done-callback for the panel's last refresh.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import batch as B
from ..errors import BfnbError
from . import hooks
from .run import RunReport

if TYPE_CHECKING:
    from ..graph.graph import Graph
    from .partial import Partial

__all__ = ["RunHandle", "run_in_background", "run_preview"]


class RunHandle:
    """A run in a background thread: ``wait()``, ``result()``, ``partial()``, ``resume()``, ``cancel()``."""

    def __init__(self, g: Graph, kwargs: dict[str, Any], *, preview: int | None = None, start: bool = True) -> None:
        self.graph = g
        self.preview_size = preview
        #: entries the whole run would take (the M of "preview N of M"), known once the preview ran
        self.preview_total: int | None = None
        self.state = "running"
        self._report: RunReport | None = None
        self._preview_rows: pd.DataFrame | None = None
        self._partial: Partial | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Any] = []
        self._rest_callbacks: list[Any] = []
        self._finished = False
        self._lock = threading.Lock()
        self._go_on = threading.Event()
        self._at_rest = threading.Event()
        self._stopped = False
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(kwargs,), name="bfnb-run", daemon=True)
        if start:
            self.start()

    def start(self) -> RunHandle:
        """Start the run's thread (once).  ``start=False`` lets a display look before the first call."""
        if self._thread.ident is None:  # not started yet
            self._thread.start()
        return self

    # --- the run's thread ---------------------------------------------------------------------------

    def _keep_partial(self, partial: Partial) -> None:
        self._partial = partial

    def _run(self, kwargs: dict[str, Any]) -> None:
        try:
            kwargs = {**kwargs, "_background": True, "_on_partial": self._keep_partial}
            if self.preview_size is not None:
                self._run_preview(kwargs)
                if self._stopped:
                    return
            from ..engines import run

            self._report = run(self.graph, **kwargs)
            from ..graph.runner import run_finished

            run_finished(self.graph, self._report, warn=False)  # a background run keeps its versions too
        except BaseException as e:
            self._error = e
        finally:
            self.state = "done"
            self._rested()
            self._call_back()
            self._at_rest.set()
            self._ended.set()

    def _run_preview(self, kwargs: dict[str, Any]) -> None:
        from ..engines import run
        from .preview import preview_graph, total_entries

        pg, cut = preview_graph(self.graph, self.preview_size)  # type: ignore[arg-type]
        # The whole-batch engine unless asked otherwise: it reads every source entry, so M is known
        # (a chunked engine stops reading at N and cannot say "of M").
        report = run(pg, **{"engine": "local", **kwargs, "_preview": True})
        self._preview_rows = report.tail_result()
        self.preview_total = total_entries(report, cut) if report.engine == "local" else None
        self.state = "preview"
        self._rested()
        self._at_rest.set()
        self._go_on.wait()  # resume() or cancel()

    # --- asking ------------------------------------------------------------------------------------

    def done(self) -> bool:
        """True once the run has finished (like ``concurrent.futures.Future.done``)."""
        return self._ended.is_set()

    def wait(self, timeout: float | None = None) -> RunHandle:
        """Wait until the run comes to rest: done, or paused at its preview."""
        self._at_rest.wait(timeout)
        if self.state == "done":
            self._thread.join(timeout)  # done-callbacks (a panel's last refresh) run before this returns
        return self

    def result(self, timeout: float | None = None) -> pd.DataFrame:
        """The tail's batch once the run is done (a cancelled preview: the preview's rows)."""
        self.wait(timeout)
        if self._error is not None:
            raise self._error
        if self.state == "preview":
            raise BfnbError(
                f"this run stopped at its preview ({self.label()}): handle.partial() gives those rows, "
                "handle.resume() runs the rest"
            )
        if self._report is None:
            if self._stopped and self._preview_rows is not None:
                return self._preview_rows
            raise TimeoutError("the run is still going on")
        return self._report.tail_result()

    def partial(self) -> pd.DataFrame:
        """The graph's output rows finished so far, as a DataFrame (downstream row-wise ops applied).

        Looking sends nothing and writes nothing.  At a preview: the preview's rows; when done: the
        whole result.
        """
        if self._report is not None and self.state == "done":
            return self._report.tail_result()
        if self.state == "preview" or (self._stopped and self._preview_rows is not None):
            return self._preview_rows if self._preview_rows is not None else B.empty()
        partial = self._partial
        return partial.rows() if partial is not None else B.empty()

    def label(self) -> str:
        """``"preview 5 of 56"`` at a preview, else the state."""
        if self.state == "preview":
            of = f" of {self.preview_total}" if self.preview_total is not None else ""
            return f"preview {self.preview_size}{of}"
        return self.state

    def resume(self) -> RunHandle:
        """Go on from the preview to the whole graph; the preview's answers are not sent again."""
        if self.state != "preview" or self._stopped:
            raise BfnbError(f"resume() goes on from a preview; this run is {self.label()}")
        self.state = "running"
        self._at_rest.clear()
        self._go_on.set()
        return self

    def cancel(self) -> None:
        """Stop the run, keeping every answer already received (at a preview: stop there)."""
        if self.state == "preview":
            self._stopped = True
            self._at_rest.clear()  # wait() now waits for the thread to end
            self._go_on.set()
            return
        hooks.cancel_all()

    def add_done_callback(self, fn: Any) -> None:
        """Call ``fn(handle)`` when the run ends, on the run's thread, before ``wait()`` returns.

        Why before: a live panel's final refresh must be sent while the cell that waits is still
        running, or a saved notebook keeps the panel as it was mid-run.  Already finished: called now.
        """
        with self._lock:
            if not self._finished:
                self._callbacks.append(fn)
                return
        fn(self)

    def add_rest_callback(self, fn: Any) -> None:
        """Call ``fn(handle)`` each time the run comes to rest (paused at its preview, or done),
        on the run's thread, before ``wait()`` returns (so a display's last state is saved)."""
        self._rest_callbacks.append(fn)

    def _rested(self) -> None:
        for fn in list(self._rest_callbacks):
            with contextlib.suppress(Exception):
                fn(self)

    def _call_back(self) -> None:
        with self._lock:
            self._finished = True
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            with contextlib.suppress(Exception):  # a display's failure never fails the run
                fn(self)

    def __repr__(self) -> str:
        return f"<bfnb.RunHandle {self.label()}>"


def run_in_background(g: Graph, *, preview: int | None = None, **kwargs: Any) -> RunHandle:
    # The display (a panel counting "this run") looks at the brokers before the run's first call:
    # started first, a busy machine could finish calls before the panel's baseline, which would then
    # hide them ("25 of 25" for a run of 56).
    handle = hooks.wrap_background(RunHandle(g, kwargs, preview=preview, start=False))
    return handle.start()


def run_preview(g: Graph, n: int, *, background: bool = False, **kwargs: Any) -> RunHandle:
    """``g.run(preview=n)``: the graph on the first ``n`` entries, then a pause until asked.

    Blocking (the default) returns once the preview is done; ``background=True`` at once.
    """
    from .preview import preview_graph

    preview_graph(g, n)  # a bad n fails here, in the caller's thread, before anything runs
    handle = run_in_background(g, preview=n, **kwargs)
    if not background:
        handle.wait()
        if handle._error is not None:
            raise handle._error
    return handle
