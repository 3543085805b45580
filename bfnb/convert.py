"""Batches to and from JSONL, records, Arrow and Parquet, without loss.

A batch's values (text, None, numbers, lists, dicts, numpy arrays, bytes) must survive every
format. JSONL goes through :func:`bfnb.formats.jsonl.encode_value`. Arrow and Parquet keep
number, bool, text and bytes columns typed (readable by any tool) and store every other object
column as a column of JSON text, named in the schema metadata under ``b"bfnb.encoded"`` so that
reading restores the exact values. ``None`` stays ``None`` and ``NaN`` stays ``NaN``. JSON has no
column types, so from JSONL a float32 column comes back as float64 and a datetime or complex
column as objects (numpy scalars, values exact); Arrow and Parquet keep those types.

Writing JSONL is on the hot path (sinks, checkpoints), so it never loops over rows in Python for
plain columns: each str or number column is encoded by one ``orjson.dumps`` of the whole column,
whose value boundaries numpy finds (the commas between values); the keys, the punctuation and
the values become the elements of one Arrow array, and one ``take`` gathers them line by line
into the output buffer. Only object columns holding containers, arrays or bytes fall back to one
``encode_value`` per value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import batch as B
from .errors import SourceError
from .formats.atomic import atomic_open
from .formats.jsonl import decode_value, encode_value
from .formats.packing import STYLES, encode_seed_value
from .formats.seed_shapes import is_seed_packed, seed_unpack

__all__ = [
    "batch_from_arrow",
    "batch_from_jsonl_records",
    "batch_to_arrow",
    "batch_to_jsonl_bytes",
    "read_parquet",
    "write_parquet",
]

ENCODED_KEY = b"bfnb.encoded"
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


# ----------------------------------------------------------------------------------------- JSONL


def batch_to_jsonl_bytes(df: pd.DataFrame, fields: Sequence[str] | None = None, *, packing: str = "bfnb") -> bytes:
    """The batch as JSONL: one line per entry, ``idx`` and ``rev`` first, then the fields.

    ``packing="seed"`` writes arrays, bytes and images as batchfactory did (see
    :mod:`bfnb.formats.packing`); bfnb reads both.

    >>> df = B.from_columns(["a", "b"], {"text": ["hi", None], "n": [1, 2]})
    >>> print(batch_to_jsonl_bytes(df).decode(), end="")
    {"idx":"a","rev":0,"text":"hi","n":1}
    {"idx":"b","rev":0,"text":null,"n":2}
    """
    fields = B.data_fields(df) if fields is None else list(fields)
    B.require_fields(df, fields)
    encode = _encoder(packing)
    n = len(df)
    rev = df[B.REV] if B.REV in df.columns else pd.Series(np.zeros(n, "int64"), index=df.index)
    arrays = [_as_numpy(df.index), _as_numpy(rev)] + [_as_numpy(df[f]) for f in fields]
    # Object columns of str (and None) are encoded whole by orjson, as number columns are.
    # (pandas caches the inferred type of an index: the idx check is free after the first.)
    idx_is_str = df.index.dtype == object and df.index.inferred_type == "string"
    columns = [
        (name, a, _str_mask(a) if a.dtype == object else None)
        if not (name == B.IDX and idx_is_str)
        else (name, a, np.ones(n, dtype=bool))
        for name, a in zip([B.IDX, B.REV, *fields], arrays, strict=True)
    ]
    keys = [b'{"idx":'] + [b"," + orjson.dumps(c[0]) + b":" for c in columns[1:]]
    consts = pa.array([*keys, b"}\n", b"null"], type=pa.large_binary())
    # Chunks of rows (about _CHUNK_BYTES of text each) keep every intermediate buffer small
    # and warm in memory; only the result is allocated at full size, once.
    text = sum(_mean_len(a) for a in arrays if a.dtype == object)
    step = int(min(_CHUNK_ROWS, max(64, _CHUNK_BYTES // max(text, 1))))
    return b"".join(_jsonl_chunk(columns, consts, df.index, i, min(i + step, n), encode) for i in range(0, n, step))


def _encoder(packing: str) -> Any:
    if packing == "bfnb":
        return encode_value
    if packing == "seed":
        return encode_seed_value
    raise ValueError(f"unknown packing {packing!r}; accepted: {', '.join(STYLES)}")


_CHUNK_ROWS = 1 << 14
_CHUNK_BYTES = 8 << 20


def _mean_len(arr: np.ndarray) -> float:
    """The mean length of the str values in a sample of an object column (other values: 16)."""
    sample = arr[:: max(1, len(arr) // 64)].tolist()
    return sum(len(v) if isinstance(v, str) else 16 for v in sample) / max(1, len(sample))


def _jsonl_chunk(
    columns: list[tuple[str, np.ndarray, np.ndarray | None]],
    consts: pa.Array,
    index: pd.Index,
    lo: int,
    hi: int,
    encode: Any = encode_value,
) -> memoryview:
    """JSONL of rows ``lo:hi``. Each piece of each line (a key with its punctuation, or one
    value cut out of a whole-column orjson body) is an element of one Arrow array, and one
    ``take`` gathers the pieces line by line into a contiguous buffer."""
    n, m = hi - lo, 2 * len(columns) + 1
    order = np.empty((n, m), dtype=np.int64)
    order[:, 0 : m - 1 : 2] = np.arange(len(columns))  # the keys
    order[:, m - 1] = len(consts) - 2  # "}\n"
    null_at = len(consts) - 1
    parts, base = [consts], len(consts)
    for j, (name, values, strs) in enumerate(columns):
        mask = None if strs is None else strs[lo:hi]
        arr, pos = _column(values[lo:hi], name, index[lo:hi], mask, encode)
        order[:, 2 * j + 1] = np.where(pos >= 0, pos + base, null_at)
        parts.append(arr)
        base += len(arr)
    lines = pc.take(pa.concat_arrays(parts), pa.array(order.reshape(-1).astype(np.int32)))
    _, offsets, data = lines.buffers()
    start, stop = np.frombuffer(offsets, np.int64)[[lines.offset, lines.offset + len(lines)]]
    return memoryview(data)[int(start) : int(stop)]


def _column(
    arr: np.ndarray, name: str, index: pd.Index, strs: np.ndarray | None, encode: Any = encode_value
) -> tuple[pa.Array, np.ndarray]:
    """The JSON pieces of a column and each row's position among them (-1: ``null``).

    Numbers, and str where ``strs`` marks them (the rest being None), come from one
    ``orjson.dumps`` of the whole column; other object columns are encoded value by value.
    """
    kind = arr.dtype.kind
    if kind in "iub" or (kind == "f" and np.isfinite(arr).all()):
        try:
            body = orjson.dumps(np.ascontiguousarray(arr), option=_NUMPY)
        except orjson.JSONEncodeError:  # a dtype orjson does not know (float128, ...)
            pass
        else:
            return _cut(body, len(arr), None), np.arange(0, 2 * len(arr), 2)
    elif strs is not None:
        sub = arr if strs.all() else arr[strs]
        lst = sub.tolist()
        try:
            body = orjson.dumps(lst)
        except orjson.JSONEncodeError:  # e.g. a lone surrogate: the per-value path names the row
            _encode_each(sub, name, index[strs], encode)
            raise
        pos = np.full(len(arr), -1, dtype=np.int64)
        pos[strs] = np.arange(0, 2 * len(lst), 2)
        return _cut(body, len(lst), lst), pos
    pieces = pa.array(_encode_each(arr, name, index, encode), type=pa.large_binary())
    return pieces, np.arange(len(arr))


def _cut(body: bytes, n: int, strings: list[str] | None) -> pa.Array:
    """orjson's ``[v0,v1,...]`` as the array ``v0 , v1 , ...`` (values at even positions).

    No copy: the array's offsets point into ``body``. Numbers hold no comma, so every comma
    separates two values. In a list of str the separators are among the ``","`` sequences;
    exactly ``n - 1`` of those means no string holds one, else (rare: a string ending in
    ``",``) the encoded lengths decide.
    """
    if n == 0:
        return pa.array([], type=pa.large_binary())
    b = np.frombuffer(body, np.uint8)
    cuts = np.flatnonzero(b == ord(","))
    if strings is not None:
        cuts = cuts[(b[cuts - 1] == ord('"')) & (b[cuts + 1] == ord('"'))]
        if len(cuts) != n - 1:
            lengths = np.fromiter(map(len, map(orjson.dumps, strings)), np.int64, n)
            cuts = np.cumsum(lengths[:-1] + 1)
    offsets = np.empty(2 * n, dtype=np.int64)
    offsets[0] = 1
    offsets[1:-1:2] = cuts
    offsets[2:-1:2] = cuts + 1
    offsets[-1] = len(body) - 1
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(body)]
    return pa.Array.from_buffers(pa.large_binary(), 2 * n - 1, buffers)


def _as_numpy(values: Any) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        if isinstance(values.dtype, np.dtype):
            return values.to_numpy()
        return values.to_numpy(dtype=object, na_value=None)  # str / nullable extension dtypes
    return np.asarray(values)


def _str_mask(arr: np.ndarray) -> np.ndarray | None:
    """Where an object column holds str, if every other value is None; else None."""
    if pd.api.types.infer_dtype(arr, skipna=False) == "string":
        return np.ones(len(arr), dtype=bool)
    nulls = _none_mask(arr)
    if not nulls.any():
        return None
    rest = arr[~nulls]
    if len(rest) and pd.api.types.infer_dtype(rest, skipna=False) != "string":
        return None
    return ~nulls


def _none_mask(arr: np.ndarray) -> np.ndarray:
    """Where an object array holds None (``pd.isna`` alone would also flag NaN and NaT)."""
    mask = pd.isna(arr)
    for i in np.flatnonzero(mask):
        mask[i] = arr[i] is None
    return mask


def _encode_each(arr: np.ndarray, name: str, index: pd.Index, encode: Any = encode_value) -> list[bytes]:
    """One ``orjson.dumps(encode(v))`` per value; errors name the idx and field."""
    dumps = orjson.dumps
    out = []
    # Python numbers for numeric columns; numpy scalars (datetime64, complex) keep their type.
    for i, v in enumerate(arr.tolist() if arr.dtype.kind in "iufbUS" else arr):
        try:
            out.append(dumps(encode(v)))
        except (TypeError, orjson.JSONEncodeError) as e:
            where = f"the value at idx {index[i]!r}"
            raise TypeError(f"cannot encode {where} of field {name!r} as JSON: {e}") from e
    return out


def batch_from_jsonl_records(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A batch from decoded JSONL records (dicts holding ``idx``, ``rev`` and the fields).

    A field absent from some records is None there. Columns whose values are all int, all float
    or all bool become typed columns; anything else stays Python objects.
    """
    records = records if isinstance(records, list) else list(records)
    idx: list[str] = []
    for i, r in enumerate(records):
        ix = r.get(B.IDX)
        if type(ix) is not str:
            raise ValueError(f"record {i} has no str 'idx' (got {ix!r})")
        idx.append(ix)
    rev = [r.get(B.REV, 0) for r in records]
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r))
    names.pop(B.IDX, None)
    names.pop(B.REV, None)
    columns = {k: _typed([r.get(k) for r in records]) for k in names}
    return _frame(idx, columns, rev)


def _frame(idx: Sequence[str], columns: Mapping[str, np.ndarray], rev: Any) -> pd.DataFrame:
    """``B.from_columns``, with object arrays wrapped so that pandas cannot infer ``str``."""
    wrapped = {k: pd.Series(v, dtype=object, copy=False) if v.dtype == object else v for k, v in columns.items()}
    return B.from_columns(idx, wrapped, rev)


def _typed(vals: list[Any]) -> np.ndarray:
    """A numpy column: typed when every value has one of int/float/bool, else object."""
    types = set(map(type, vals))
    if len(types) == 1:
        t = next(iter(types))
        if t is float or t is bool:
            return np.array(vals, dtype=t)
        if t is int:
            try:
                return np.array(vals, dtype="int64")
            except OverflowError:
                pass
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return out


# ----------------------------------------------------------------------------------------- Arrow


def batch_to_arrow(df: pd.DataFrame) -> pa.Table:
    """The batch as an Arrow table: ``idx``, ``rev``, then one column per field."""
    idx = _as_numpy(df.index)
    arrays = [pa.array(_object(idx), type=pa.string(), from_pandas=False)]
    names = [B.IDX]
    rev = df[B.REV].to_numpy() if B.REV in df.columns else np.zeros(len(df), "int64")
    arrays.append(pa.array(rev, type=pa.int64()))
    names.append(B.REV)
    encoded: list[str] = []
    for f in B.data_fields(df):
        s = df[f]
        if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iufb":
            arrays.append(pa.array(s.to_numpy(), from_pandas=False))  # NaN stays NaN, not null
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            vals = _as_numpy(s)
            typ = _plain_type(vals)
            if typ is not None:
                arrays.append(pa.array(vals, type=typ, from_pandas=False))
            else:
                arrays.append(pa.array(_encode_each(vals, f, df.index), type=pa.string()))
                encoded.append(f)
        else:  # datetimes, categoricals, ...: Arrow has a type for them
            arrays.append(pa.Array.from_pandas(s))
        names.append(f)
    meta = {ENCODED_KEY: orjson.dumps(encoded)}
    return pa.Table.from_arrays(arrays, names=names).replace_schema_metadata(meta)


def _object(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == object else a.astype(object)


def _plain_type(vals: np.ndarray) -> pa.DataType | None:
    """pa.string() / pa.binary() when the non-None values are all str / all bytes."""
    nulls = _none_mask(vals)
    rest = vals[~nulls] if nulls.any() else vals
    if not len(rest):
        return pa.string()
    kind = pd.api.types.infer_dtype(rest, skipna=False)
    if kind == "string":
        return pa.string()
    if kind == "bytes" and all(type(v) is bytes for v in rest):
        return pa.binary()
    return None


def batch_from_arrow(table: pa.Table) -> pd.DataFrame:
    """A batch from an Arrow table written by :func:`batch_to_arrow` (or any table with ``idx``)."""
    if B.IDX not in table.column_names:
        raise ValueError(f"the table has no {B.IDX!r} column (columns: {table.column_names})")
    meta = table.schema.metadata or {}
    encoded = set(orjson.loads(meta[ENCODED_KEY])) if ENCODED_KEY in meta else set()
    idx_col = table.column(B.IDX)
    if (pa.types.is_string(idx_col.type) or pa.types.is_large_string(idx_col.type)) and not idx_col.null_count:
        idx: Any = idx_col.to_numpy(zero_copy_only=False)  # str objects, without a Python list step
    else:
        idx = idx_col.to_pylist()
        if not all(type(i) is str for i in idx):
            raise ValueError("the 'idx' column must hold non-null strings")
    if B.REV in table.column_names:
        rev: Any = table.column(B.REV).to_numpy(zero_copy_only=False).astype("int64")
    else:
        rev = 0
    columns: dict[str, Any] = {}
    extra: dict[str, pd.Series] = {}
    for name in table.column_names:
        if name in (B.IDX, B.REV):
            continue
        col = table.column(name)
        t = col.type
        if name in encoded:
            vals = [None if v is None else decode_value(orjson.loads(v)) for v in col.to_pylist()]
            columns[name] = _objects(vals)
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
            columns[name] = _object(col.to_numpy(zero_copy_only=False))
        elif (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)) and (col.null_count == 0):
            columns[name] = col.to_numpy(zero_copy_only=False)
        elif pa.types.is_temporal(t) or pa.types.is_dictionary(t):
            extra[name] = col.to_pandas()
        elif pa.types.is_struct(t) and {"format", "bytes"} <= {f.name for f in t}:  # batchfactory's packing
            columns[name] = _objects([seed_unpack(v) if is_seed_packed(v) else v for v in col.to_pylist()])
        else:  # nullable numbers, lists, structs from other writers: Python values, None kept
            columns[name] = _objects(col.to_pylist())
    df = _frame(idx, columns, rev)
    if extra:
        df = df.assign(**{k: v.set_axis(df.index) for k, v in extra.items()})
        df = df[[B.REV] + [c for c in table.column_names if c not in (B.IDX, B.REV)]]
    return df


def _objects(vals: list[Any]) -> np.ndarray:
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return out


# --------------------------------------------------------------------------------------- Parquet


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str], *, compression: str = "zstd") -> None:
    """Write the batch to a Parquet file atomically (temp file + rename)."""
    import pyarrow.parquet as pq  # imported when used: a cached re-run reads Arrow files, not Parquet

    table = batch_to_arrow(df)
    with atomic_open(path, "wb") as f:
        pq.write_table(table, f, compression=compression)


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a batch written by :func:`write_parquet`."""
    import pyarrow.parquet as pq

    try:
        # one file: ParquetFile skips pyarrow.dataset (its import is most of a first read), and a
        # thread pool only pays off for big files (a checkpoint of 20k rows reads 5x faster without)
        table = pq.ParquetFile(path).read(use_threads=os.path.getsize(path) > 64 * 2**20)
    except (OSError, pa.ArrowException) as e:
        raise SourceError(f"cannot read Parquet file {os.fspath(path)!r}: {e}") from e
    try:
        return batch_from_arrow(table)
    except ValueError as e:
        raise SourceError(f"{os.fspath(path)!r}: {e}") from e
