"""Row ops: filters (which entries go on) and batch-wide ops (order, take, sample).

Filters keep or drop whole rows with one boolean mask; a user criteria function is called once
per row, everything else is vectorised (idx membership, status, missing values).  Batch-wide ops
see their whole input, always: bfnb's barriers are real, so the seed's ``barrier_level`` is
accepted and ignored, as is ``consume_rejected`` (a rejected entry is simply not passed on).
Randomness is deterministic: ``Shuffle`` permutes with a seeded numpy Generator, and
``SampleProportion`` draws per idx (``hash(seed, idx) < p``), so an entry keeps its draw when the
rest of the batch changes.  With ``seed=None`` a seed is drawn once, when the op is made.
"""

from __future__ import annotations

import math
import operator
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from .. import batch as B
from ..errors import MissingFieldError, OpError, UserFunctionError
from ..fingerprint import describe_function, hash_bytes
from ._idx import hash_values, mix
from .op import MapOp, RunContext, call_rowwise, columns_of, key_list

__all__ = [
    "ExcludeIdx",
    "Filter",
    "FilterFailedEntries",
    "FilterMissingFields",
    "IncludeIdx",
    "SampleProportion",
    "SamplePropotion",
    "Shuffle",
    "Sort",
    "SortMarkdownEntries",
    "TakeFirstN",
]


def _truthy(values: list[Any], batch: pd.DataFrame, op: Any, fn: Any) -> np.ndarray:
    try:
        return np.fromiter(map(operator.truth, values), dtype=bool, count=len(values))
    except (ValueError, TypeError) as e:  # an array or another value without one truth value
        for i, v in enumerate(values):
            try:
                bool(v)
            except Exception as e2:
                raise UserFunctionError(
                    f"{describe_function(fn)} returned a {type(v).__name__} that is neither true nor false",
                    op=op,
                    idx=batch.index[i],
                ) from e2
        raise OpError(f"cannot use the criteria's results as a mask: {e}", op=op) from e


def _row_dicts(batch: pd.DataFrame) -> list[dict[str, Any]]:
    return B.to_records(batch, with_meta=False)


def call_on_rows(fn: Callable[..., Any], batch: pd.DataFrame, keys: list[str], op: Any) -> list[Any]:
    """``fn(*values)`` per row when keys are given, else ``fn(data_dict)`` (the seed's two forms)."""
    if keys:
        return call_rowwise(fn, batch, keys, op)
    out: list[Any] = []
    try:
        out.extend(map(fn, _row_dicts(batch)))  # on an exception, out holds the rows before it
    except Exception as e:
        raise dict_function_error(fn, e, op, batch.index[len(out)], batch) from e
    return out


def dict_function_error(fn: Any, e: Exception, op: Any, idx: Any, batch: pd.DataFrame) -> Exception:
    """The error for ``fn(data)`` raising: a KeyError on a field the batch lacks is a missing field."""
    key = e.args[0] if isinstance(e, KeyError) and e.args else None
    if isinstance(key, str) and key not in batch.columns:
        return MissingFieldError(f"{describe_function(fn)} reads missing field {key!r}", op=op, idx=idx, field=key)
    return UserFunctionError(f"{describe_function(fn)} raised {type(e).__name__}: {e}", op=op, idx=idx)


class Filter(MapOp):
    """Keep the entries for which ``criteria(data)`` (or ``criteria(*values)`` with keys) is true."""

    kind = "filter"

    def __init__(self, criteria: Callable[..., Any], *keys: Any, consume_rejected: bool = False) -> None:
        if not callable(criteria):
            raise TypeError(f"Filter needs a function first, got {type(criteria).__name__}")
        self.criteria = criteria
        self.keys = [k for group in keys for k in key_list(group)]

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        if not len(batch):
            B.require_fields(batch, self.keys, op=self)
            return batch
        res = call_on_rows(self.criteria, batch, self.keys, self)
        return batch[_truthy(res, batch, self, self.criteria)]


class FilterFailedEntries(MapOp):
    """Drop entries whose status field is ``"failed"``."""

    kind = "filter"

    def __init__(self, *, status_key: str = "status", consume_rejected: bool = False) -> None:
        self.status_key = status_key

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        if self.status_key not in batch.columns or not len(batch):
            return batch
        vals = batch[self.status_key].to_numpy(dtype=object)
        failed = np.fromiter((type(v) is str and v == "failed" for v in vals), bool, len(vals))
        return batch[~failed] if failed.any() else batch


def _none_mask(vals: np.ndarray) -> np.ndarray:
    mask = pd.isna(vals)
    for i in np.flatnonzero(mask):  # NaN and NaT are values; only None is "no value"
        mask[i] = vals[i] is None
    return mask


class FilterMissingFields(MapOp):
    """Drop entries that lack any of ``keys``; with ``allow_None=False`` also those where one is None."""

    kind = "filter"

    def __init__(self, *keys: Any, allow_None: bool = True, consume_rejected: bool = False) -> None:
        self.keys = [k for group in keys for k in key_list(group)]
        self.allow_None = allow_None

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        if any(k not in batch.columns for k in self.keys):
            return batch.iloc[:0]
        if self.allow_None or not len(batch):
            return batch
        keep = np.ones(len(batch), dtype=bool)
        for k in self.keys:
            col = batch[k]
            if col.dtype == object:
                keep &= ~_none_mask(col.to_numpy())
        return batch if keep.all() else batch[keep]


class IncludeIdx(MapOp):
    """Keep the entries whose idx is in ``idx_set``."""

    kind = "filter"
    _keep = True

    def __init__(self, idx_set: Iterable[str], *, consume_rejected: bool = False) -> None:
        if isinstance(idx_set, str):
            raise TypeError("give a set or list of idx, not one string")
        self.idx_set = frozenset(str(i) for i in idx_set)

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        inside = batch.index.isin(list(self.idx_set))
        return batch[inside if self._keep else ~inside]


class ExcludeIdx(IncludeIdx):
    """Drop the entries whose idx is in ``idx_set``."""

    _keep = False


def _seed_of(seed: Any) -> Any:
    return secrets.randbits(64) if seed is None else seed


class Shuffle(MapOp):
    """Shuffle the batch; the same seed and input give the same order."""

    kind = "batch"

    def __init__(self, seed: Any = None, *, barrier_level: int = 1) -> None:
        self.seed = _seed_of(seed)

    def extra_fingerprint(self) -> str:
        return hash_bytes(repr(self.seed).encode())

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        if len(batch) < 2:
            return batch
        return batch.iloc[np.random.default_rng(self.seed).permutation(len(batch))]


class TakeFirstN(MapOp):
    """Keep the entries at positions [offset, offset + n) of the batch, in order."""

    kind = "batch"

    def __init__(self, n: int, *, offset: int = 0, barrier_level: int = 1) -> None:
        if n < 0 or offset < 0:
            raise ValueError("n and offset must be >= 0")
        self.n, self.offset = int(n), int(offset)

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        return batch.iloc[self.offset : self.offset + self.n]


class SampleProportion(MapOp):
    """Keep each entry with probability ``p``, decided by its idx and the seed (stable across runs)."""

    kind = "batch"

    def __init__(self, p: float, *, seed: Any = None, barrier_level: int = 1) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be within [0, 1], got {p}")
        self.p = float(p)
        self.seed = _seed_of(seed)

    def extra_fingerprint(self) -> str:
        return hash_bytes(repr(self.seed).encode())

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        if not len(batch):
            return batch
        salt = np.uint64(int(hash_bytes(repr(self.seed).encode())[:16], 16))
        h = mix(hash_values(batch.index.to_numpy(dtype=object)), salt)
        u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
        return batch[u < self.p]


SamplePropotion = SampleProportion  # the seed's spelling


def _sort_key(v: Any) -> tuple[int, Any]:
    return (1, 0) if v is None or (isinstance(v, float) and math.isnan(v)) else (0, v)


class Sort(MapOp):
    """Sort by fields (stable); None and NaN sort last.  ``custom_func`` gives the sort key:
    ``custom_func(*values)`` when keys are given, else ``custom_func(data)``."""

    kind = "batch"

    def __init__(
        self,
        *keys: Any,
        reverse: bool = False,
        custom_func: Callable[..., Any] | None = None,
        barrier_level: int = 1,
    ) -> None:
        self.keys = [k for group in keys for k in key_list(group)]
        if not self.keys and custom_func is None:
            raise TypeError("Sort needs field keys or a custom_func")
        self.reverse, self.custom_func = reverse, custom_func

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        if self.custom_func is not None:
            keys = call_on_rows(self.custom_func, batch, self.keys, self)
            return batch.iloc[_order(keys, self.reverse, self, batch)]
        cols = columns_of(batch, self.keys, self)
        if len(batch) < 2:
            return batch
        frame = pd.DataFrame({i: B.column(c, pd.RangeIndex(len(batch))) for i, c in enumerate(cols)})
        try:
            order = frame.sort_values(
                list(frame.columns), ascending=not self.reverse, kind="stable", na_position="last"
            ).index.to_numpy()
        except TypeError:  # values pandas cannot order together (lists, mixed types): Python order
            keys = list(zip(*cols, strict=True)) if len(cols) > 1 else cols[0]
            order = _order(keys, self.reverse, self, batch)
        return batch.iloc[order]


def _order(keys: list[Any], reverse: bool, op: Any, batch: pd.DataFrame) -> list[int]:
    """Stable order of ``keys`` (None/NaN last, also when reversed)."""
    tupled = [tuple(_sort_key(x) for x in k) if isinstance(k, tuple) else _sort_key(k) for k in keys]
    missing = [i for i, k in enumerate(tupled) if k == (1, 0)]
    rest = [i for i, k in enumerate(tupled) if k != (1, 0)]
    try:
        rest.sort(key=tupled.__getitem__, reverse=reverse)
    except TypeError as e:
        field = getattr(op, "keys", None) or None
        raise OpError(f"cannot sort: the values cannot be compared ({e})", op=op, field=field) from e
    return rest + missing


class SortMarkdownEntries(MapOp):
    """Sort entries by their headings (numbers in headings compare as numbers), then the keyword."""

    kind = "batch"

    def __init__(
        self, *, headings_key: str = "headings", keyword_key: str | None = None, barrier_level: int = 1
    ) -> None:
        self.headings_key, self.keyword_key = headings_key, keyword_key

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        from ..formats.markdown import build_sort_key_from_headings

        keys = [self.headings_key] + ([self.keyword_key] if self.keyword_key else [])
        cols = columns_of(batch, keys, self)
        sort_keys = [
            (build_sort_key_from_headings(list(h or [])), *(_sort_key(c[i]) for c in cols[1:]))
            for i, h in enumerate(cols[0])
        ]
        order = sorted(range(len(batch)), key=sort_keys.__getitem__)
        return batch.iloc[order]
