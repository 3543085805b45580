"""Fan-out and fan-in: ExplodeList, SpawnFromList, CollectAllToList, ListParallel.

A spawned child's idx is its parent's idx plus its position (``"a1b2.3"``), and it carries the
parent's rev, so children are distinct per parent and per loop round without any de-duplication
guard.  ``ListParallel`` runs its body once over every child of every entry, then gathers the
results back in list order.  Documented edge cases: an empty list gives empty result lists; a
child the body filters out is left out of its parent's lists (the lists get shorter; nothing
waits for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import batch as B
from ..errors import OpError
from ..graph import Graph
from .control import _as_graph, wire_branch
from .op import Op, RunContext, key_list

__all__ = ["CollectAllToList", "ExplodeList", "ListParallel", "SpawnFromList"]


def _explode(
    op: Op,
    b: pd.DataFrame,
    in_keys: Sequence[str],
    out_keys: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, dict[str, list[Any]]]:
    """Parent position per child, position in list per child, and the items per out key."""
    B.require_fields(b, in_keys, op=op)
    if len(in_keys) != len(out_keys):
        raise OpError(f"{len(in_keys)} list fields but {len(out_keys)} item fields", op=op)
    cols = [b[k].tolist() for k in in_keys]
    lengths = np.zeros(len(b), dtype="int64")
    is_list = []
    for k, col in zip(in_keys, cols, strict=True):
        flags = [isinstance(v, (list, tuple, np.ndarray)) for v in col]
        is_list.append(flags)
        for i, (v, f) in enumerate(zip(col, flags, strict=True)):
            if f:
                if lengths[i] and len(v) != lengths[i] and len(v) != 0:
                    raise OpError(
                        f"lists of different lengths ({lengths[i]} and {len(v)}) cannot be zipped",
                        op=op,
                        idx=b.index[i],
                        field=k,
                    )
                lengths[i] = max(lengths[i], len(v))
    if not any(any(f) for f in is_list) and len(b):
        raise OpError("expected a list", op=op, idx=b.index[0], field=in_keys[0])
    parent = np.repeat(np.arange(len(b)), lengths)
    position = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    items: dict[str, list[Any]] = {}
    for k_out, col, flags in zip(out_keys, cols, is_list, strict=True):
        vals: list[Any] = []
        for v, f, n in zip(col, flags, lengths.tolist(), strict=True):
            if f:
                vals.extend(list(v))
            else:  # a scalar is broadcast to the list length
                vals.extend([v] * n)
        items[k_out] = vals
    return parent, position, items


def _child_idx(b: pd.DataFrame, parent: np.ndarray, position: np.ndarray) -> list[str]:
    parents = b.index.to_numpy()[parent]
    return [f"{p}.{i}" for p, i in zip(parents.tolist(), position.tolist(), strict=True)]


class ExplodeList(Op):
    """One entry per list element (lists zipped, scalars broadcast); the parent entry is replaced."""

    kind = "fanout"

    def __init__(
        self,
        in_lists_keys: str | list[str] = "list",
        out_lists_keys: str | list[str] = "item",
        *,
        master_idx_key: str | None = "master_idx",
        list_idx_key: str | None = "list_idx",
        keep_others: bool = True,
        barrier_level: int = 1,
    ) -> None:
        self.in_keys = key_list(in_lists_keys)
        self.out_keys = key_list(out_lists_keys)
        self.master_idx_key = master_idx_key
        self.list_idx_key = list_idx_key
        self.keep_others = keep_others

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        b = inputs[0]
        parent, position, items = _explode(self, b, self.in_keys, self.out_keys)
        columns: dict[str, Any] = {}
        if self.keep_others:
            for f in B.data_fields(b):
                if f not in self.in_keys and f not in items:
                    columns[f] = b[f].to_numpy()[parent]
        columns.update(items)
        if self.master_idx_key:
            columns[self.master_idx_key] = b.index.to_numpy()[parent]
        if self.list_idx_key:
            columns[self.list_idx_key] = position
        out = B.from_columns(_child_idx(b, parent, position), columns, b[B.REV].to_numpy()[parent], op=self)
        return [out]


class SpawnFromList(Op):
    """Port 0: each entry unchanged (plus ``spawn_idx_list``); port 1: one child per list element."""

    n_out = 2
    kind = "fanout"

    def __init__(
        self,
        in_lists_keys: str | list[str] = "list",
        out_items_keys: str | list[str] = "item",
        *,
        master_idx_key: str = "master_idx",
        list_idx_key: str = "list_idx",
        spawn_idx_list_key: str = "spawn_idx_list",
    ) -> None:
        self.in_keys = key_list(in_lists_keys)
        self.out_keys = key_list(out_items_keys)
        self.master_idx_key = master_idx_key
        self.list_idx_key = list_idx_key
        self.spawn_idx_list_key = spawn_idx_list_key

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        b = inputs[0]
        parent, position, items = _explode(self, b, self.in_keys, self.out_keys)
        child_idx = _child_idx(b, parent, position)
        columns: dict[str, Any] = dict(items)
        columns[self.master_idx_key] = b.index.to_numpy()[parent]
        columns[self.list_idx_key] = position
        spawns = B.from_columns(child_idx, columns, b[B.REV].to_numpy()[parent], op=self)
        per_parent: list[list[str]] = [[] for _ in range(len(b))]
        for p, c in zip(parent.tolist(), child_idx, strict=True):
            per_parent[p].append(c)
        masters = B.with_fields(b, {self.spawn_idx_list_key: per_parent})
        return [masters, spawns]


class CollectAllToList(Op):
    """Port 0: parents, port 1: children; each parent gets its children's items as lists.

    Lists follow the children's positions; a child missing from port 1 (filtered out) is left out.
    """

    n_in = 2
    kind = "fanin"

    def __init__(
        self,
        in_items_keys: str | list[str] = "item",
        out_lists_keys: str | list[str] = "list",
        *,
        master_idx_key: str = "master_idx",
        list_idx_key: str = "list_idx",
        spawn_idx_list_key: str = "spawn_idx_list",
    ) -> None:
        self.in_keys = key_list(in_items_keys)
        self.out_keys = key_list(out_lists_keys)
        if len(self.in_keys) != len(self.out_keys):
            raise TypeError(f"{len(self.in_keys)} item fields but {len(self.out_keys)} list fields")
        self.master_idx_key = master_idx_key
        self.list_idx_key = list_idx_key
        self.spawn_idx_list_key = spawn_idx_list_key

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        masters, spawns = inputs
        lists: dict[str, list[list[Any]]] = {k: [[] for _ in range(len(masters))] for k in self.out_keys}
        if len(spawns):
            B.require_fields(spawns, [self.master_idx_key, *self.in_keys], op=self)
            pos = masters.index.get_indexer(spawns[self.master_idx_key].to_numpy())
            order_key = (
                spawns[self.list_idx_key].to_numpy() if self.list_idx_key in spawns.columns else np.arange(len(spawns))
            )
            order = np.lexsort((order_key, pos))
            pos_sorted = pos[order].tolist()
            for k_in, k_out in zip(self.in_keys, self.out_keys, strict=True):
                vals = spawns[k_in].to_numpy()[order].tolist()
                target = lists[k_out]
                for p, v in zip(pos_sorted, vals, strict=True):
                    if p >= 0:  # a child whose parent is gone (filtered in master_body) goes with it
                        target[p].append(v)
        out = B.with_fields(masters, lists)
        if self.spawn_idx_list_key in out.columns:
            out = out.drop(columns=[self.spawn_idx_list_key])
        return [out]


def ListParallel(
    spawn_body: Op | Graph | None,
    in_lists_keys: str | list[str] = "list",
    out_items_keys: str | list[str] | None = None,
    in_items_keys: str | list[str] | None = None,
    out_lists_keys: str | list[str] | None = None,
    *,
    master_idx_key: str = "master_idx",
    list_idx_key: str = "list_idx",
    spawn_idx_list_key: str = "spawn_idx_list",
    master_body: Op | Graph | None = None,
) -> Graph:
    """Spawn one child per list element, run ``spawn_body`` on all children, collect back to lists.

    Defaults: items are named like the lists (``out_items_keys = in_lists_keys``), the items read
    back are the ones spawned, and results go back into the list fields.
    """
    out_items = out_items_keys if out_items_keys is not None else in_lists_keys
    in_items = in_items_keys if in_items_keys is not None else out_items
    out_lists = out_lists_keys if out_lists_keys is not None else in_lists_keys
    spawn = SpawnFromList(
        in_lists_keys,
        out_items,
        master_idx_key=master_idx_key,
        list_idx_key=list_idx_key,
        spawn_idx_list_key=spawn_idx_list_key,
    )
    collect = CollectAllToList(
        in_items,
        out_lists,
        master_idx_key=master_idx_key,
        list_idx_key=list_idx_key,
        spawn_idx_list_key=spawn_idx_list_key,
    )
    g = Graph.of(spawn)
    mb = _as_graph(master_body)
    if mb is not None:
        g = g | mb
    g = g | collect
    return wire_branch(g, spawn, spawn_body, collect)
