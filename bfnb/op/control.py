"""Control flow: If (BeginIf/EndIf), While, Repeat, Replicate, CollectField.

Loops are single nodes that hold their body as a graph and run it round by round on the entries
still looping, so every entry leaves the loop before anything downstream starts: a sort or a
writer after a loop sees all of them, whatever round each left at.  Each pass through the body
raises an entry's ``rev`` by one.  A loop that would run past ``max_iterations`` raises
:class:`~bfnb.errors.LoopLimitError` naming an entry still looping, instead of returning partial
results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .. import batch as B
from ..errors import LoopLimitError, MissingFieldError, OpError
from ..fingerprint import combine
from ..graph import Graph
from .op import Op, RunContext, key_list, predicate

__all__ = ["BeginIf", "CollectField", "EndIf", "If", "LoopOp", "Repeat", "Replicate", "While"]

DEFAULT_MAX_ITERATIONS = 1000


def _as_graph(chain: Any) -> Graph | None:
    if chain is None:
        return None
    if isinstance(chain, Graph):
        return chain if len(chain) else None
    if isinstance(chain, Op):
        return Graph.of(chain)
    raise TypeError(f"a chain must be an op or a graph, got {type(chain).__name__}")


# --- If ---------------------------------------------------------------------------------------------


class BeginIf(Op):
    """Routes entries for which ``criteria`` holds to port 1, the others to port 0."""

    n_out = 2
    kind = "router"

    def __init__(self, criteria: Callable[..., Any], *keys: str) -> None:
        self.criteria = criteria
        self.keys = key_list(list(keys)) if keys else []

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        b = inputs[0]
        mask = predicate(self.criteria, self.keys, b, self)
        return [b[~mask], b[mask]]


class EndIf(Op):
    """Merges the two branches of an If (where one idx comes from both, the higher rev wins)."""

    n_in = 2
    kind = "router"

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        return [B.concat(inputs)]


def If(
    criteria: Callable[..., Any],
    true_chain: Op | Graph | None,
    false_chain: Op | Graph | None = None,
    *,
    keys: str | list[str] | None = None,
) -> Graph:
    """Entries for which ``criteria(data)`` (or ``criteria(*values of keys)``) holds go through
    ``true_chain``, the others through ``false_chain``; both meet again after the If."""
    begin = BeginIf(criteria, *key_list(keys))
    end = EndIf()
    false_g = _as_graph(false_chain)
    g = Graph.of(begin)
    if false_g is not None:
        g = g | false_g
    g = g | end
    return wire_branch(g, begin, true_chain, end)


def wire_branch(g: Graph, src: Op, chain: Any, dst: Op) -> Graph:
    """Wire ``src``'s port 1 through ``chain`` (or straight) into ``dst``'s port 1, in place.

    A chain that shares ops with ``g`` (the same op used on both branches) gets its own nodes.
    """
    body = _as_graph(chain)
    if body is None:
        return g.wire(src, dst, 1, 1)
    if not body.nodes_by_id.keys().isdisjoint(g.nodes_by_id):
        body = body.with_fresh_ids()
    g.wire(src, body, 1, 0)
    return g.wire(body, dst, 0, 1)


# --- loops ------------------------------------------------------------------------------------------


class LoopOp(Op):
    """A loop node: runs ``body`` on the entries for which :meth:`criteria` holds, round by round."""

    kind = "loop"

    body: Graph
    max_iterations: int

    def initialize(self, b: pd.DataFrame) -> pd.DataFrame:
        return b

    def criteria(self, b: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def pre_increment(self, b: pd.DataFrame) -> pd.DataFrame:
        return b

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        assert ctx.run_subgraph is not None
        start = inputs[0]
        pending = self.initialize(start)
        exits: list[pd.DataFrame] = []
        rounds = 0
        run_cap = ctx.options.get("max_iterations")  # the seed's execute(max_iterations=...): caps every loop
        limit = self.max_iterations if run_cap is None else min(self.max_iterations, run_cap)
        while len(pending):
            mask = self.criteria(pending)
            if not mask.all():
                exits.append(pending[~mask])
                pending = pending[mask]
            if not len(pending):
                break
            if rounds >= limit:
                raise LoopLimitError(
                    f"{len(pending)} entries still loop after max_iterations={limit}; "
                    "raise the limit or check the loop condition",
                    op=self,
                    idx=pending.index[0],
                )
            rounds += 1
            pending = self.pre_increment(pending)
            out = ctx.run_subgraph(self.body, pending, combine(ctx.fingerprint, f"round:{rounds}"))
            pending = out.assign(**{B.REV: out[B.REV] + 1})
        ctx.stats["rounds"] = rounds
        result = B.concat(exits) if exits else B.empty(B.data_fields(start))
        return [_in_input_order(result, start.index)]


def _in_input_order(result: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
    """Entries in the order they entered (new entries made inside the loop come last)."""
    if len(result) < 2:
        return result
    pos = order.get_indexer(result.index)
    pos = np.where(pos < 0, len(order) + np.arange(len(pos)), pos)
    return result.iloc[np.argsort(pos, kind="stable")]


class While(LoopOp):
    """Runs ``body`` while ``criteria(data)`` (or ``criteria(*values of keys)``) holds for an entry.

    ``While(criteria, body)``, or keyed: ``While(lambda n: n < 10, body, "n")``.
    """

    def __init__(
        self,
        criteria: Callable[..., Any],
        body: Op | Graph,
        *keys: str,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
    ) -> None:
        self.criteria_fn = criteria
        self.keys = list(keys)
        self.body = _as_graph(body) or Graph()
        self.max_iterations = max_iterations

    def criteria(self, b: pd.DataFrame) -> np.ndarray:
        return predicate(self.criteria_fn, self.keys, b, self)


class Repeat(LoopOp):
    """Runs ``body`` a fixed number of rounds; inside the body ``rounds`` counts 1..N.

    ``max_rounds`` may come from each entry's ``max_rounds_key`` field instead.  With
    ``initial_value=None`` the entry's own ``rounds_key`` field is the starting count.
    """

    def __init__(
        self,
        body: Op | Graph,
        max_rounds: int | None = None,
        *,
        rounds_key: str = "rounds",
        max_rounds_key: str | None = None,
        initial_value: int | None = 0,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
    ) -> None:
        if max_rounds is None and max_rounds_key is None:
            raise TypeError("Repeat needs max_rounds or max_rounds_key")
        self.body = _as_graph(body) or Graph()
        self.max_rounds = max_rounds
        self.rounds_key = rounds_key
        self.max_rounds_key = max_rounds_key
        self.initial_value = initial_value
        self.max_iterations = max_iterations

    def initialize(self, b: pd.DataFrame) -> pd.DataFrame:
        if self.initial_value is not None:
            return B.with_fields(b, {self.rounds_key: np.full(len(b), self.initial_value, dtype="int64")})
        B.require_fields(b, [self.rounds_key], op=self)
        return b

    def _limit(self, b: pd.DataFrame) -> np.ndarray:
        if self.max_rounds_key is not None:
            if self.max_rounds_key not in b.columns:
                raise MissingFieldError(
                    f"missing field {self.max_rounds_key!r}", op=self, idx=b.index[0], field=self.max_rounds_key
                )
            return _ints(b[self.max_rounds_key], self, self.max_rounds_key)
        return np.full(len(b), self.max_rounds, dtype="int64")

    def criteria(self, b: pd.DataFrame) -> np.ndarray:
        return _ints(b[self.rounds_key], self, self.rounds_key) < self._limit(b)

    def pre_increment(self, b: pd.DataFrame) -> pd.DataFrame:
        return B.with_fields(b, {self.rounds_key: _ints(b[self.rounds_key], self, self.rounds_key) + 1})


def _ints(s: pd.Series, op: Op, field: str) -> np.ndarray:
    try:
        return s.to_numpy(dtype="int64")
    except (TypeError, ValueError) as e:
        bad = next((i for i, v in zip(s.index, s.tolist(), strict=True) if not isinstance(v, (int, np.integer))), None)
        raise OpError(f"field {field!r} must hold integers", op=op, idx=bad, field=field) from e


# --- replicate and merge ----------------------------------------------------------------------------


class Replicate(Op):
    """Sends every entry to each of ``n_out_ports`` ports (same idx), marking ``replica_idx``."""

    kind = "fanout"

    def __init__(self, n_out_ports: int = 2, *, replica_idx_key: str | None = "replica_idx") -> None:
        if n_out_ports < 1:
            raise ValueError("Replicate needs at least one out-port")
        self.n_out = n_out_ports
        self.replica_idx_key = replica_idx_key

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        b = inputs[0]
        if self.replica_idx_key is None:
            return [b] * self.n_out
        return [B.with_fields(b, {self.replica_idx_key: np.full(len(b), i, dtype="int64")}) for i in range(self.n_out)]


class CollectField(Op):
    """Copies ``keys`` from port-1 entries into the port-0 entries with the same idx.

    Port 0 gives the updated entries (an entry with no partner passes unchanged); port 1 passes
    its entries on unchanged.
    """

    n_in = 2
    n_out = 2
    kind = "fanin"

    def __init__(self, *keys: str) -> None:
        self.keys = key_list(list(keys))

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        main, other = inputs
        keys = self.keys or B.data_fields(other)
        B.require_fields(other, keys, op=self)
        common = main.index.intersection(other.index)
        if not len(common):
            return [main, other]
        updates = {}
        for k in keys:
            src = other.loc[common, k]
            if k in main.columns:
                col = main[k].copy()
                if col.dtype != object and src.dtype != col.dtype:
                    col = col.astype(object)
                col.loc[common] = src.to_numpy()
            else:
                arr = np.full(len(main), None, dtype=object)
                arr[main.index.get_indexer(common)] = src.tolist()
                col = arr
            updates[k] = col
        return [B.with_fields(main, updates), other]
