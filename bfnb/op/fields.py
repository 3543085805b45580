"""Field ops: compute, set, remove and rename fields (columns) of every entry.

The seed API and keyword conventions are kept (``MapField(f, "text")``,
``MapField(f, ["headings", "keyword"], "headings")``, ``MapField(f, {"a": "b"})``), but work is
column-wise: a user function is called once per row (unavoidable), everything else — reading
columns, building the result, setting constants, renaming — is one pandas operation per column.
Batches are treated as immutable: an op returns a new frame and never changes its input, and
``SetField`` gives every entry the same value object (a list is not copied per entry), so user
functions must return new values rather than mutate the ones they are given.  ``Apply``, whose
protocol is mutation, gets private copies of container values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import batch as B
from ..errors import MissingFieldError, UserFunctionError
from ..fingerprint import describe_function
from .op import MapOp, RunContext, call_rowwise, io_keys, key_list
from .rows import dict_function_error

__all__ = ["Apply", "MapField", "RemoveField", "RenameField", "SetField", "constant_column"]

_RESERVED = (B.IDX, B.REV)


def _check_names(keys: Sequence[str], what: str) -> None:
    for k in keys:
        if k in _RESERVED:
            raise ValueError(f"{k!r} is reserved (the entry's idx and rev) and cannot be {what}")


class MapField(MapOp):
    """``out = func(*in values)`` for every entry.

    Keys: ``"k"`` (in = out), ``["a", "b"]`` (in = out), ``(ins, outs)`` or ``{"in": "out"}``.
    With one output field any return value is stored (None included); with n output fields the
    function returns a tuple or list of n values.
    """

    kind = "map"

    def __init__(self, func: Callable[..., Any], *keys: Any) -> None:
        if not callable(func):
            raise TypeError(f"MapField needs a function first, got {type(func).__name__}")
        self.func = func
        self.in_keys, self.out_keys = io_keys(*keys)
        if not self.in_keys:
            raise TypeError("MapField needs at least one input field")
        _check_names(self.out_keys, "an output field")

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        n_out = len(self.out_keys)
        if not len(batch):
            B.require_fields(batch, self.in_keys, op=self)
            return B.with_fields(batch, {k: [] for k in self.out_keys})
        out = call_rowwise(self.func, batch, self.in_keys, self, n_out=n_out, out_keys=self.out_keys)
        if n_out == 1:
            return B.with_fields(batch, {self.out_keys[0]: out})
        if n_out == 0:
            bad = next((i for i, r in enumerate(out) if r is not None and r != ()), None)
            if bad is not None:
                raise UserFunctionError(
                    f"{describe_function(self.func)} has no output field, so it must return None",
                    op=self,
                    idx=batch.index[bad],
                    field=self.in_keys,
                )
            return batch
        cols = list(zip(*out, strict=True))
        return B.with_fields(batch, {k: list(c) for k, c in zip(self.out_keys, cols, strict=True)})


class Apply(MapOp):
    """``func(data)`` for every entry: mutate ``data`` in place (seed), or return a new dict.

    Fields removed from every entry's dict disappear; a field kept by only some entries is None
    in the others (a batch has one column per field).
    """

    kind = "map"

    def __init__(self, func: Callable[[dict[str, Any]], Any]) -> None:
        if not callable(func):
            raise TypeError(f"Apply needs a function, got {type(func).__name__}")
        self.func = func

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        fields = B.data_fields(batch)
        cols = [_private(batch[f]) for f in fields]
        idx = batch.index
        results: list[dict[str, Any]] = []
        fn = self.func
        for i, values in enumerate(zip(*cols, strict=True) if cols else ((),) * len(batch)):
            data = dict(zip(fields, values, strict=True))
            try:
                r = fn(data)
            except Exception as e:
                raise dict_function_error(fn, e, self, idx[i], batch) from e
            if r is not None and not isinstance(r, Mapping):
                raise UserFunctionError(
                    f"{describe_function(fn)} must change the dict in place or return a dict, got {type(r).__name__}",
                    op=self,
                    idx=idx[i],
                )
            results.append(data if r is None else dict(r))
        names: dict[str, None] = {}
        for r in results:
            names.update(dict.fromkeys(r))
        _check_names(list(names), "set by Apply")
        columns = {k: [r.get(k) for r in results] for k in names}
        out = pd.DataFrame({B.REV: batch[B.REV]}, index=idx) if B.REV in batch.columns else pd.DataFrame(index=idx)
        return B.with_fields(out, columns)


def _private(col: pd.Series) -> list[Any]:
    """A column's values, with containers deep-copied so in-place edits never reach the input batch."""
    vals = col.tolist()
    if col.dtype == object:
        mutable = (list, dict, set, bytearray, np.ndarray)
        vals = [copy.deepcopy(v) if isinstance(v, mutable) else v for v in vals]
    return vals


def constant_column(value: Any, n: int) -> Any:
    """``n`` copies of one value as a column (the same object in every row; no broadcasting of lists)."""
    if type(value) in (int, float, bool):
        return np.full(n, value)
    arr = np.empty(n, dtype=object)
    arr.fill(value)
    return pd.Series(arr, dtype=object, copy=False)


class SetField(MapOp):
    """Set constant fields: ``SetField("k", v, "k2", v2)``, ``SetField({"k": v})`` or ``SetField(["k"], [v])``."""

    kind = "map"

    def __init__(self, *data: Any) -> None:
        if len(data) == 1 and isinstance(data[0], Mapping):
            self.values = dict(data[0])
        elif len(data) == 2 and isinstance(data[0], (list, tuple)) and isinstance(data[1], (list, tuple)):
            if len(data[0]) != len(data[1]):
                raise TypeError("SetField(keys, values): the two lists must have the same length")
            self.values = dict(zip(data[0], data[1], strict=True))
        elif len(data) % 2 == 0 and all(isinstance(k, str) for k in data[::2]):
            self.values = dict(zip(data[::2], data[1::2], strict=True))
        else:
            raise TypeError(
                f"SetField takes 'k', v, 'k2', v2, ... or {{'k': v}} or (['k', ...], [v, ...]); got {data!r}"
            )
        key_list(list(self.values))
        _check_names(list(self.values), "set by SetField")

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        n = len(batch)
        return B.with_fields(batch, {k: constant_column(v, n) for k, v in self.values.items()})


class RemoveField(MapOp):
    """Drop fields; a field that is not there is ignored."""

    kind = "map"

    def __init__(self, *keys: Any) -> None:
        self.keys = [k for group in keys for k in key_list(group)]
        _check_names(self.keys, "removed")

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        drop = [k for k in self.keys if k in batch.columns]
        return batch.drop(columns=drop) if drop else batch


class RenameField(MapOp):
    """Rename fields (``copy=True`` keeps the originals): ``("a", "b")``, ``(["a", "b"], ["c", "d"])``, ``{"a": "c"}``.

    Renames happen at once, so ``{"a": "b", "b": "a"}`` swaps two fields.
    """

    kind = "map"

    def __init__(self, *keys_map: Any, copy: bool = False) -> None:
        self.src, self.dst = io_keys(*keys_map)
        if len(self.src) != len(self.dst):
            raise TypeError(f"RenameField needs as many new names as old ones: {self.src} → {self.dst}")
        if len(set(self.dst)) != len(self.dst):
            raise TypeError(f"RenameField: two fields would get one name: {self.dst}")
        _check_names(self.src + self.dst, "renamed")
        self.copy = copy

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        for k in self.src:
            if k not in batch.columns:
                ix = batch.index[0] if len(batch) else None
                raise MissingFieldError(f"missing field {k!r}", op=self, idx=ix, field=k)
        new = {d: batch[s] for s, d in zip(self.src, self.dst, strict=True)}
        out = batch if self.copy else batch.drop(columns=[s for s in self.src if s not in self.dst])
        return B.with_fields(out, new)
