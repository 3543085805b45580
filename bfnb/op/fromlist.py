"""FromList: entries from Python values (a list of dicts, plain values, or a pandas DataFrame).

The input is taken as a value, at construction: the list (or frame) is copied into a batch
(containers inside it are copied too, so mutating them later changes nothing) and that batch is
fingerprinted once.  Running the op returns that batch as it is, so a re-run of an unchanged
graph, or a cell that extends it, costs nothing proportional to the data; and a result can never
be stale, because the user's list is no longer read after construction.  ``set_input`` (seed API)
takes a new value the same way.

idx: a DataFrame's index (unique, as text) or its ``idx_key`` column; a dict's ``idx`` key (or the
``idx_key`` field); else a 16-hex-digit content hash of the record (:mod:`._idx`), the same hash
as ReadJsonl gives the same record, so adding a record never changes another's idx.  Records
with one idx are an error naming both list positions.
"""

from __future__ import annotations

import copy
import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import batch as B
from ..errors import OpError, SourceError
from ..fingerprint import combine, fingerprint, hash_bytes
from ._files import columns_of_records, idx_from_key, rev_of, typed
from ._idx import HashError, Where, check_unique, hash_records, hex_ids, obj_column, objects, own_idx
from .op import RunContext, SourceOp

__all__ = ["FromList"]

#: values that need no copy to be frozen
_IMMUTABLE = frozenset((str, int, float, bool, bytes, type(None), complex, np.str_, np.float64, np.int64, np.bool_))
#: pandas' inferred kinds of object columns that hold only immutable values
_IMMUTABLE_KINDS = frozenset(("string", "bytes", "integer", "floating", "boolean", "mixed-integer-float", "empty"))


class FromList(SourceOp):
    """Entries from a list (dicts, seed ``Entry`` objects, or plain values with ``output_key``) or a DataFrame.

    ``FromList(df)``: the DataFrame's index becomes idx (as text; it must be unique), its columns
    become fields; ``idx_key="col"`` takes idx from a column instead (for dicts too).  The data is
    copied at construction: changing the list afterwards does not change what the op gives.
    """

    preserves_idx = True  # the batch's idx is checked at construction, naming both list positions

    def __init__(
        self,
        input_list: Sequence[Any] | pd.DataFrame,
        output_key: str | None = None,
        *,
        idx_key: str | None = None,
        fire_once: bool = True,
    ) -> None:
        if output_key is not None and not isinstance(output_key, str):
            raise TypeError(f"FromList: output_key must be a field name (str), got {output_key!r}")
        if idx_key is not None and not isinstance(idx_key, str):
            raise TypeError(f"FromList: idx_key must be a field name (str), got {idx_key!r}")
        self.output_key, self.idx_key = output_key, idx_key
        self.set_input(input_list)

    def set_input(self, input_list: Sequence[Any] | pd.DataFrame) -> None:
        """Take a new list or DataFrame (seed API); it is copied now, like the constructor's."""
        if isinstance(input_list, (str, bytes, Mapping, pd.Series)) or not hasattr(input_list, "__len__"):
            raise TypeError(f"FromList takes a list or a pandas DataFrame, got {type(input_list).__name__}")
        self._error: OpError | None = None
        try:
            if isinstance(input_list, pd.DataFrame):
                self._batch, content = _from_frame(input_list, self)
            else:
                self._batch, content = _from_items(input_list, self)
        except OpError as e:  # raised when the graph runs, like any source's bad input
            self._error, self._batch, content = e, B.empty(), combine("invalid", str(e))
        options: dict[str, Any] = {"output_key": self.output_key}
        if self.idx_key is not None:
            options["idx_key"] = self.idx_key
        self._fingerprint = combine(combine("bfnb.op.sources.FromList", fingerprint(options)), content)
        kwargs = dict(self._args[1])
        self._args = ((_Summary(input_list),), kwargs)  # the repr; the op keeps no reference to the input

    def fingerprint(self) -> str:
        """Class, options and the content, hashed once at construction."""
        return self._fingerprint

    def read(self, ctx: RunContext) -> pd.DataFrame:
        if self._error is not None:
            raise self._error
        return self._batch


class _Summary:
    """What a FromList's repr shows of its input, without holding it."""

    def __init__(self, value: Any) -> None:
        if isinstance(value, pd.DataFrame):
            self.text = f"DataFrame[{len(value)} rows × {len(value.columns)} columns]"
        else:
            n = len(value)
            self.text = f"[{n} items]" if n > 6 else repr(list(value))
            if len(self.text) > 60:
                self.text = f"[{n} items]"

    def __repr__(self) -> str:
        return self.text


# --- a list ---------------------------------------------------------------------------------------


def _from_items(items: Sequence[Any], op: FromList) -> tuple[pd.DataFrame, str]:
    items = items if isinstance(items, list) else list(items)
    n = len(items)
    where = Where(n, lambda i: f"list position {i}")
    if op.output_key is not None:
        values = _frozen(objects(items))
        try:
            hashes = hash_records({op.output_key: values})
        except HashError as e:
            raise SourceError(f"list position {e.position}: {e}", op=op, field=op.output_key) from e
        columns: dict[str, Any] = {op.output_key: obj_column(values)}
        explicit, rev = None, 0
    else:
        records = items if _plain(items) else [_as_record(x, i, op) for i, x in enumerate(items)]
        cols, present = columns_of_records(records)
        try:
            hashes = hash_records(cols, present) if cols else np.zeros(n, np.uint64)
        except HashError as e:
            raise SourceError(f"list position {e.position}: {e}", op=op, field=e.field) from e
        explicit = _explicit_idx(records, cols, op, where)
        rev = rev_of(records, op, where)
        columns = {k: _frozen(typed(v)) for k, v in cols.items()}
    content = [b"fromlist:", hashes.tobytes()]
    if explicit is not None:
        content.append("\x1f".join(str(e) for e in explicit).encode())
    if not isinstance(rev, int):
        content.append(np.asarray(rev, dtype=np.int64).tobytes())
    fp = hash_bytes(b"".join(content))
    if not n:
        return B.empty([op.output_key] if op.output_key else []), fp
    ids = hex_ids(hashes)
    keys: Any = hashes
    if explicit is not None:
        ids = [h if e is None else e for e, h in zip(explicit, ids, strict=True)]
        keys = ids
    check_unique(keys, where, op, ids, "are identical records; give them distinct content or an 'idx' key")
    return B.from_columns(ids, columns, rev, op=op, check_unique=False), fp


def _plain(items: list[Any]) -> bool:
    """Every item a plain dict, none in the ``{"idx", "data"}`` form: use them as they are."""
    if set(map(type, items)) - {dict}:
        return False
    if not any(map(operator.contains, items, itertools.repeat(B.IDX))):  # in C: the usual case
        return True
    return not any("data" in x and B.IDX in x for x in items)


def _explicit_idx(
    records: Sequence[Mapping[str, Any]], cols: dict[str, Any], op: FromList, where: Where
) -> list[Any] | None:
    """Each record's idx given by the data (``idx_key`` field, else ``idx`` key; None where absent)."""
    if op.idx_key is not None:
        if op.idx_key not in cols:
            raise SourceError(f"no record has the idx_key field {op.idx_key!r}", op=op, field=op.idx_key)
        return idx_from_key(cols[op.idx_key], op.idx_key, where, op)
    if not any(map(operator.contains, records, itertools.repeat(B.IDX))):
        return None
    return own_idx([r.get(B.IDX) for r in records], [B.IDX in r for r in records], where, op)  # every source's rule


def _as_record(x: Any, i: int, op: Any) -> Mapping[str, Any]:
    if isinstance(x, Mapping):
        if B.IDX in x and isinstance(x.get("data"), Mapping) and set(x) <= {"idx", "rev", "data", "meta"}:
            return {**x["data"], B.IDX: x[B.IDX], B.REV: x.get(B.REV, 0)}
        return x if type(x) is dict else dict(x)
    data = getattr(x, "data", None)
    if hasattr(x, "idx") and isinstance(data, Mapping):  # an Entry (the seed's, or anything shaped like one)
        return {**data, B.IDX: x.idx, B.REV: getattr(x, "rev", 0)}
    raise SourceError(
        f"list position {i} is a {type(x).__name__}, not a dict; give FromList an output_key to store "
        "plain values under, or pass a pandas DataFrame",
        op=op,
    )


# --- a DataFrame ----------------------------------------------------------------------------------


def _from_frame(df: pd.DataFrame, op: FromList) -> tuple[pd.DataFrame, str]:
    if op.output_key is not None:
        raise SourceError("output_key is for a list of plain values; a DataFrame's columns are its fields", op=op)
    bad = [c for c in df.columns if not isinstance(c, str)]
    if bad:
        raise SourceError(
            f"column names must be text to be field names; got {bad[:3]!r} (use df.rename(columns=str))", op=op
        )
    if not df.columns.is_unique:
        dup = df.columns[df.columns.duplicated()][0]
        raise SourceError(f"the DataFrame has two columns named {dup!r}", op=op, field=dup)
    n = len(df)
    where = Where(n, lambda i: f"row {i} (index {df.index[i]!r})")
    if op.idx_key is not None:
        if op.idx_key not in df.columns:
            raise SourceError(
                f"idx_key {op.idx_key!r} is not a column; columns: {list(df.columns)}", op=op, field=op.idx_key
            )
        ids = idx_from_key(df[op.idx_key].tolist(), op.idx_key, where, op)
        check_unique(ids, where, op, ids, f"have the same {op.idx_key!r}; idx_key must name a column of unique values")
    else:
        if isinstance(df.index, pd.MultiIndex):
            raise SourceError("a MultiIndex cannot be an idx; give idx_key= a column, or df.reset_index()", op=op)
        if not df.index.is_unique:
            dup = df.index[df.index.duplicated()][0]
            raise SourceError(
                f"the DataFrame's index is not unique ({dup!r} appears more than once), so it cannot be the idx; "
                "give idx_key= a column of unique values, or use df.reset_index(drop=True)",
                op=op,
                idx=str(dup),
            )
        ids = [v if type(v) is str else str(v) for v in df.index.tolist()]
        check_unique(ids, where, op, ids, "give the same text as idx")  # 1 and "1" in one index
    names = [c for c in df.columns if c != B.REV and not (c == B.IDX and op.idx_key == B.IDX)]
    if B.IDX in names:
        raise SourceError(
            "'idx' is reserved for the entry's id; pass idx_key='idx' to use that column as idx", op=op, field=B.IDX
        )
    rev: Any = 0
    if B.REV in df.columns:
        r = df[B.REV]
        if r.dtype.kind not in "iu":
            raise SourceError(
                f"'rev' is reserved for the entry's revision (an int), got a {r.dtype} column", op=op, field=B.REV
            )
        rev = r.to_numpy(dtype=np.int64, copy=True)
    columns = {c: _frozen(_column_values(df[c])) for c in names}
    try:
        hashes = hash_records(columns).tobytes() if columns and n else b""
    except HashError:  # values bfnb cannot hash: this op's content is its own (never shared with another)
        hashes = combine("unhashable", str(id(op)), str(np.random.default_rng().integers(1 << 62))).encode()
    content = [b"fromframe:", hashes, "\x1f".join(ids).encode(), "\x1f".join(names).encode()]
    if not isinstance(rev, int):
        content.append(rev.tobytes())
    fp = hash_bytes(b"".join(content))
    if not n:
        return B.empty(names), fp
    return B.from_columns(ids, columns, rev, op=op, check_unique=False), fp


def _column_values(s: pd.Series) -> Any:
    """A copy of a column's values: numbers as numpy, everything else as Python objects (missing text → None)."""
    kind = s.dtype.kind
    if kind in "iufb" and not isinstance(s.dtype, pd.CategoricalDtype):
        return s.to_numpy(copy=True)
    arr = s.to_numpy(dtype=object, copy=True)
    if isinstance(s.dtype, pd.StringDtype):  # pandas' text dtype stores missing as NaN / NA
        arr[s.isna().to_numpy()] = None
    return arr


# --- freezing --------------------------------------------------------------------------------------


def _frozen(column: Any) -> Any:
    """The column with every container copied, so later changes to the input do not reach the batch."""
    arr = column.to_numpy() if isinstance(column, pd.Series) else column
    if not isinstance(arr, np.ndarray) or arr.dtype != object:
        return column
    if pd.api.types.infer_dtype(arr, skipna=True) in _IMMUTABLE_KINDS:
        return column
    out = np.empty(len(arr), dtype=object)
    out[:] = [_own(v) for v in arr]
    return obj_column(out)


def _own(v: Any) -> Any:
    """``v`` itself if immutable, else a copy of it (containers recursively); other objects as they are."""
    t = type(v)
    if t in _IMMUTABLE:
        return v
    if t is list:
        return [_own(x) for x in v]
    if t is dict:
        return {k: _own(x) for k, x in v.items()}
    if t is tuple:
        return tuple(_own(x) for x in v)
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, (bytearray, set)):
        return copy.copy(v)
    return v
