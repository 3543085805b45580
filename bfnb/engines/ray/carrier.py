"""Batches on Ray Data, without loss: each entry travels as its idx plus one pickled row.

Ray Data stores blocks as Arrow tables, and Arrow would change what bfnb keeps exactly (a None in
a text column becomes NaN, a list becomes a numpy array, a dict becomes a struct, ints become
floats next to a null).  So a Ray row is ``idx`` (str, for Ray's own sort and limit), ``_schema``
(the batch's columns and dtypes, one short string repeated per row) and ``_row`` (the row's
values, pickled).  :func:`decode` rebuilds a batch with the same columns, values and dtypes that
went in; ops run on real bfnb batches inside ``map_batches``, never on Arrow data.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd

from ... import batch as B

__all__ = ["decode", "encode"]

_SEP, _KV = "\x1f", "\x1e"


def _schema(df: pd.DataFrame) -> str:
    return _SEP.join(f"{c}{_KV}{df[c].dtype.str if df[c].dtype.kind in 'iufb' else 'O'}" for c in df.columns)


def encode(df: pd.DataFrame) -> pd.DataFrame:
    """A batch as carrier rows (``idx``, ``_schema``, ``_row``)."""
    n = len(df)
    cols = [df[c].tolist() for c in df.columns]
    rows = [pickle.dumps(t, protocol=5) for t in zip(*cols, strict=True)] if cols else [pickle.dumps(())] * n
    return pd.DataFrame(
        {
            B.IDX: np.asarray(df.index, dtype=object).astype(str) if n else np.array([], dtype=object),
            "_schema": [_schema(df)] * n,
            "_row": rows,
        }
    )


def _decode_group(idx: list[str], schema: str, rows: list[bytes]) -> pd.DataFrame:
    spec = [part.split(_KV) for part in schema.split(_SEP)] if schema else []
    values = [pickle.loads(r) for r in rows]
    index = pd.Index(idx, dtype=object, name=B.IDX)
    data: dict[str, pd.Series] = {}
    for i, (name, dtype) in enumerate(spec):
        col = [v[i] for v in values]
        if dtype == "O":
            arr = np.empty(len(col), dtype=object)
            arr[:] = col
            data[name] = pd.Series(arr, index=index, dtype=object, copy=False)
        else:
            data[name] = pd.Series(np.asarray(col, dtype=np.dtype(dtype)), index=index, copy=False)
    return pd.DataFrame(data, index=index, copy=False)


def decode(carrier: pd.DataFrame, empty_fields: Any = ()) -> pd.DataFrame:
    """Carrier rows back to a batch (consecutive rows of one schema make one part)."""
    from ..stream.chunks import gather

    if not len(carrier):
        return B.empty(empty_fields)
    idx = carrier[B.IDX].tolist()
    schemas = carrier["_schema"].tolist()
    rows = carrier["_row"].tolist()
    parts, start = [], 0
    for i in range(1, len(schemas) + 1):
        if i == len(schemas) or schemas[i] != schemas[start]:
            parts.append(_decode_group(idx[start:i], schemas[start], rows[start:i]))
            start = i
    return gather(parts)
