"""The batch schema: a pandas DataFrame indexed by a string ``idx`` with an int ``rev`` column.

Every op takes and gives batches.  Fields are ordinary columns and may hold any Python value
(str, numbers, lists, dicts, numpy arrays, bytes).  Failed entries keep their row and carry
``status == "failed"`` and an ``error`` message, so nothing is dropped silently.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import DuplicateIdxError, MissingFieldError

__all__ = [
    "ERROR",
    "IDX",
    "REV",
    "STATUS",
    "column",
    "concat",
    "data_fields",
    "empty",
    "field_values",
    "from_columns",
    "require_fields",
    "to_records",
    "validate",
    "with_fields",
]

IDX = "idx"
REV = "rev"
STATUS = "status"
ERROR = "error"


def empty(fields: Iterable[str] = ()) -> pd.DataFrame:
    """An empty batch with the given field columns."""
    index = pd.Index([], dtype=object, name=IDX)
    data = {REV: pd.Series([], dtype="int64", index=index)}
    data.update({f: pd.Series([], dtype=object, index=index) for f in fields if f != REV})
    return pd.DataFrame(data, index=index)


def column(values: Any, index: pd.Index) -> pd.Series:
    """A field column: numbers and bools typed, everything else kept as Python objects.

    pandas 3 would otherwise infer its ``str`` dtype for text, which copies every string into
    Arrow and turns ``None`` into ``NaN``: not lossless, and slow on the hot path.
    """
    if isinstance(values, pd.Series):
        if values.dtype.kind in "iufb" or values.dtype == object:
            return pd.Series(values.to_numpy(), index=index, dtype=values.dtype, copy=False)
        values = values.to_numpy(dtype=object)
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iufbO":
        return pd.Series(values, index=index, dtype=values.dtype, copy=False)
    vals = values if isinstance(values, list) else list(values)
    if vals and type(vals[0]) in (int, float, bool, np.int64, np.float64, np.bool_):
        arr = np.asarray(vals)
        if arr.dtype.kind in "iufb" and arr.ndim == 1:
            return pd.Series(arr, index=index, copy=False)
    arr = np.empty(len(vals), dtype=object)
    arr[:] = vals
    return pd.Series(arr, index=index, dtype=object, copy=False)


def with_fields(df: pd.DataFrame, fields: Mapping[str, Any]) -> pd.DataFrame:
    """A new batch with ``fields`` set (added or replaced); the input batch is not changed."""
    out = df.copy(deep=False)
    for name, values in fields.items():
        if name in (IDX, REV):
            raise ValueError(f"{name!r} is reserved and cannot be a field name")
        out[name] = column(values, out.index)
    return out


def from_columns(
    idx: Sequence[str],
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    rev: int | Sequence[int] = 0,
    *,
    op: Any = None,
    check_unique: bool = True,
    describe: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build a batch from an idx sequence and field columns of the same length.

    ``describe`` gives, per row, a human description of the record (file and line, list position)
    used in the duplicate-idx error.
    """
    n = len(idx)
    index = pd.Index(idx, dtype=object, name=IDX)
    revs = np.full(n, rev, dtype="int64") if isinstance(rev, int) else np.asarray(rev, "int64")
    data: dict[str, pd.Series] = {REV: pd.Series(revs, index=index, copy=False)}
    for name, values in columns.items():
        if name in (IDX, REV):
            raise ValueError(f"{name!r} is reserved and cannot be a field name")
        if len(values) != n:
            raise ValueError(f"field {name!r} has {len(values)} values for {n} entries")
        data[name] = column(values, index)
    df = pd.DataFrame(data, index=index, copy=False)
    if check_unique:
        check_unique_idx(df, op=op, describe=describe)
    return df


def to_records(df: pd.DataFrame, *, with_meta: bool = True) -> list[dict[str, Any]]:
    """Rows as dicts (``idx`` and ``rev`` first when ``with_meta``)."""
    fields = data_fields(df)
    cols = [df[f].tolist() for f in fields]
    if with_meta:
        revs = [int(r) for r in df[REV].tolist()] if REV in df.columns else [0] * len(df)
        fields, cols = [IDX, REV, *fields], [df.index.tolist(), revs, *cols]
    if not fields:
        return [{} for _ in range(len(df))]
    if all(type(f) is str for f in fields) and len(set(fields)) == len(fields):
        return list(map(_row_maker(tuple(fields)), *cols))
    return list(map(dict, map(zip, itertools.repeat(fields), zip(*cols, strict=True))))


@functools.lru_cache(maxsize=256)
def _row_maker(fields: tuple[str, ...]) -> Any:
    """``lambda a, b: {"f1": a, "f2": b}``: a dict display is the fastest way to build a row's dict."""
    args = ", ".join(f"_{i}" for i in range(len(fields)))
    items = ", ".join(f"{f!r}: _{i}" for i, f in enumerate(fields))  # repr of a str is a literal
    return eval(f"lambda {args}: {{{items}}}", {})


def field_values(df: pd.DataFrame, field: str, *, op: Any = None) -> pd.Series:
    """The values of ``field``, where ``"a.b"`` reads key ``b`` of the dicts in column ``a``.

    A column literally named ``"a.b"`` wins.  A row whose ``a`` is not a dict (a failed answer)
    gives None.  A missing field raises :class:`MissingFieldError` listing the fields there are.
    """
    if field in df.columns:
        return df[field]
    parts = field.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in df.columns:
            keys = parts[cut:]
            return pd.Series([_dig(v, keys) for v in df[head].tolist()], index=df.index, dtype=object, name=field)
    ix = df.index[0] if len(df) else None
    raise MissingFieldError(f"missing field {field!r} (fields: {data_fields(df)})", op=op, idx=ix, field=field)


def _dig(value: Any, keys: Sequence[str]) -> Any:
    for k in keys:
        if isinstance(value, Mapping):
            value = value.get(k)
        else:
            value = getattr(value, k, None) if value is not None and not isinstance(value, (str, bytes)) else None
    return value


def data_fields(df: pd.DataFrame) -> list[str]:
    """The field columns of a batch (every column but ``rev``)."""
    return [c for c in df.columns if c != REV]


def check_unique_idx(df: pd.DataFrame, *, op: Any = None, describe: Sequence[str] | None = None) -> None:
    """Raise :class:`DuplicateIdxError` naming both records when two rows share an idx."""
    if df.index.is_unique:
        return
    dup_mask = df.index.duplicated(keep=False)
    positions = np.flatnonzero(dup_mask)
    first_idx = df.index[positions[0]]
    same = [int(p) for p in positions if df.index[p] == first_idx][:2]
    if describe is not None:
        a, b = describe[same[0]], describe[same[1]]
    else:
        a, b = f"row {same[0]}", f"row {same[1]}"
    raise DuplicateIdxError(
        f"two records share one idx: {a} and {b}; give them distinct content or an explicit idx",
        op=op,
        idx=first_idx,
    )


def validate(df: pd.DataFrame, *, op: Any = None, check_unique: bool = True) -> pd.DataFrame:
    """Check (and lightly repair) the schema of a batch an op returned."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"an op must return a pandas DataFrame, got {type(df).__name__}")
    if df.index.name != IDX:
        df = df.copy(deep=False)
        df.index.name = IDX
    if REV not in df.columns:
        df = df.assign(**{REV: np.zeros(len(df), dtype="int64")})
    if check_unique:
        check_unique_idx(df, op=op)
    return df


def require_fields(df: pd.DataFrame, fields: Iterable[str], *, op: Any = None) -> None:
    """Raise :class:`MissingFieldError` for the first field absent from the batch."""
    for f in fields:
        if f not in df.columns:
            ix = df.index[0] if len(df) else None
            raise MissingFieldError(f"missing field {f!r}", op=op, idx=ix, field=f)


def concat(batches: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Union of batches; where one idx appears more than once the highest rev wins (last on ties)."""
    parts = [b for b in batches if b is not None and len(b.columns)]
    nonempty = [b for b in parts if len(b)]
    if not nonempty:
        cols: dict[str, None] = {}
        for b in parts:
            for c in data_fields(b):
                cols.setdefault(c, None)
        return empty(cols)
    if len(nonempty) == 1:
        return nonempty[0]
    df = pd.concat(nonempty, axis=0, sort=False)
    if not df.index.is_unique:
        order = np.lexsort((np.arange(len(df)), df[REV].to_numpy()))
        df = df.iloc[order]
        df = df[~df.index.duplicated(keep="last")]
    return df
