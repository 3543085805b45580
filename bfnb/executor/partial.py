"""Partial results: the graph's output rows finished so far, while a run is still going.

A user who iterates on a prompt wants to read the first answers while the rest are in flight.  A
top-level run owns one :class:`Partial`.  It is fed in two ways, and answers :meth:`Partial.rows`
by pulling, so that nothing is computed unless someone looks (the live table, ``handle.partial()``):

* **a node that works for a long time** (a broker op waiting for answers) registers a *producer*,
  ``ctx.partial.feed(ctx.node_id, producer)``: a function returning that node's output rows done
  so far (a broker op builds them from the call client's records as they arrive, answers already in
  the ledger included);
* **a finished node** is reported by the executor, ``partial.finished(node_id, batch)``.

``rows()`` takes the rows at the most advanced point and applies the row-wise ops downstream of it
(map and filter kinds; writers and other sinks are passed over, never run, so a look writes no
file and sends no call).  A barrier or another broker op downstream stops there: the rows are then
those leaving the last op before it, and :attr:`Partial.stage` names that op.

For a chunked engine (``bfnb.engines``): a ``Partial`` is the engine context's ``listener``
(:class:`~bfnb.engines.engine.ChunkListener`); after each chunk leaves a node, call
``listener.on_chunk(node_id, chunk_out)`` (chunks accumulate per node, in arrival order), and
``finished(node_id, batch)`` if the node's whole output is at hand.  ``rows()`` then reads the most
downstream node that has rows, exactly as for the local executor, so a chain's output chunks are
the partial rows.  Give broker ops ``RunContext(partial=...)`` too and a chunk in flight shows its
answers as they arrive.  Nested runs (loop and ``ListParallel`` bodies) do not feed it: their rows
are not the graph's rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import batch as B

if TYPE_CHECKING:
    from ..graph.graph import Graph

__all__ = ["Partial"]

#: op kinds that map a row to at most one row, so they may run on a part of a batch
ROW_WISE = frozenset({"map", "filter"})

Producer = Callable[[], pd.DataFrame]


class Partial:
    """Rows of one top-level run as far as they got (thread-safe; fed by the run, read by the UI)."""

    #: rows kept per node from pushed chunks: a look at a streaming run over millions of rows sees its
    #: first rows, and memory stays bounded (the engine's own buffers are not copied)
    KEEP_ROWS = 10_000

    def __init__(self, g: Graph, order: list[int], out_edges: dict[int, Any], total: int | None = None) -> None:
        self.graph = g
        self.order = list(order)
        self._pos = {nid: i for i, nid in enumerate(self.order)}
        self._next: dict[int, list[int]] = {nid: [e.dst for e in out_edges.get(nid, ())] for nid in self.order}
        self._prev: dict[int, list[int]] = {nid: [] for nid in self.order}
        for src, dsts in self._next.items():
            for d in dsts:
                self._prev.setdefault(d, []).append(src)
        self._kept_rows: dict[int, int] = {}
        self._producers: dict[int, Producer] = {}
        self._pushed: dict[int, list[pd.DataFrame]] = {}
        self._done: dict[int, pd.DataFrame] = {}
        self._lock = threading.Lock()
        self.total = total  # rows the whole run will give, when known (a preview knows it)
        self.expected: int | None = None  # rows the running node was given (what "N of M" counts to)
        self.stage = ""  # the op whose output rows() returned last, when not the tail

    # --- feeding (the run's thread) --------------------------------------------------------------

    def feed(self, node_id: int, producer: Producer, total: int | None = None) -> None:
        """``node_id`` is running; ``producer()`` gives its output rows done so far (of ``total``)."""
        with self._lock:
            self._producers[node_id] = producer
            self.expected = total

    def add(self, node_id: int, rows: pd.DataFrame) -> None:
        """Rows that have left ``node_id`` (a chunk); up to ``KEEP_ROWS`` accumulate until :meth:`finished`."""
        with self._lock:
            kept = self._kept_rows.get(node_id, 0)
            if kept >= self.KEEP_ROWS:
                return
            self._pushed.setdefault(node_id, []).append(rows.iloc[: self.KEEP_ROWS - kept])
            self._kept_rows[node_id] = kept + min(len(rows), self.KEEP_ROWS - kept)
            for up in self._ancestors(node_id):  # rows further on make earlier ones needless
                self._pushed.pop(up, None)

    def on_chunk(self, node_id: int, batch: pd.DataFrame) -> None:
        """:class:`bfnb.engines.engine.ChunkListener`: a chunked engine's chunk left ``node_id``."""
        self.add(node_id, batch)

    def finished(self, node_id: int, batch: pd.DataFrame) -> None:
        """``node_id`` is complete with output ``batch`` (port 0)."""
        with self._lock:
            self._done[node_id] = batch
            self._producers.pop(node_id, None)
            self._pushed.pop(node_id, None)
            for up in self._ancestors(node_id):  # hold no batch the executor would free
                self._done.pop(up, None)

    # --- reading (any thread) ---------------------------------------------------------------------

    def rows(self) -> pd.DataFrame:
        """The graph's output rows finished so far (see the module docstring); empty if none yet."""
        with self._lock:
            producers = dict(self._producers)
            pushed = {k: list(v) for k, v in self._pushed.items()}
            done = dict(self._done)
        tail = self.graph.tail_id
        if tail is not None and tail in done:
            self.stage = ""
            return done[tail]
        for nid in sorted(set(producers) | set(pushed) | set(done), key=lambda n: self._pos.get(n, -1), reverse=True):
            if nid in producers:
                try:
                    batch = producers[nid]()
                except Exception:  # a look never breaks the run it looks at
                    continue
            elif self._calls_ahead(nid):
                continue  # rows that still have calls ahead of them are not output rows yet
            elif nid in pushed:
                batch = B.concat(pushed[nid])
            else:
                batch = done[nid]
            return self._downstream(nid, batch)
        self.stage = ""
        return B.empty()

    def _ancestors(self, nid: int) -> set[int]:
        seen: set[int] = set()
        todo = list(self._prev.get(nid, []))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo += self._prev.get(node, [])
        return seen

    def _calls_ahead(self, nid: int) -> bool:
        """Whether a broker op (or a loop, which may hold one) lies downstream of ``nid``."""
        seen, todo = set(), list(self._next.get(nid, []))
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            if self.graph.node(node).op.kind in ("broker", "loop"):
                return True
            todo += self._next.get(node, [])
        return False

    def _passable(self, nid: int) -> bool:
        op = self.graph.node(nid).op
        return op.n_in == 1 and op.n_out == 1 and (op.kind in ROW_WISE or op.kind == "sink")

    def _downstream(self, nid: int, batch: pd.DataFrame) -> pd.DataFrame:
        """``batch`` (rows leaving ``nid``) through the row-wise ops after it, up to the tail."""
        from ..op.op import RunContext

        node = nid
        while node != self.graph.tail_id:
            nxt = self._next.get(node, [])
            if len(nxt) != 1 or not self._passable(nxt[0]):
                break
            node = nxt[0]
            op = self.graph.node(node).op
            if op.kind == "sink" or batch.empty:
                continue  # writers and printers are passed over: a look has no side effect
            ctx = RunContext(run_id="partial", node_id=node, label=op.label(), fingerprint="", dispatch_brokers=False)
            batch = op.run([batch], ctx)[0]
        self.stage = "" if node == self.graph.tail_id else self.graph.node(node).op.label()
        return batch
