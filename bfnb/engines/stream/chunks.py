"""Chunks: reading a source a few thousand entries at a time, and putting chunks back together.

:func:`read_jsonl_chunks` gives exactly the entries ``ReadJsonl.read`` gives (same idx, rev,
projection and typing, same error naming file and line), a chunk at a time, so memory holds one
chunk, not the file.  Whether two records share an idx is checked across chunks with 64-bit
hashes of each idx (8 bytes an entry); on a hash match the file is read whole once more, which
names both records exactly as the whole-batch reader does (or finds the match was a collision).

:func:`gather` concatenates chunks as one whole batch would have been: a field missing from some
chunks is None there, and a field typed differently in two chunks (ints in one, floats in
another) is kept as Python objects, as the whole-batch reader types it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ... import batch as B
from ...errors import SourceError
from ...fingerprint import text_hashes
from ...formats.jsonl_blocks import Plain, iter_jsonl_blocks
from ...op._idx import Where
from ...op.sources import ReadJsonl

__all__ = ["IdxTracker", "gather", "read_jsonl_chunks", "slices"]


def slices(batch: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    """A whole batch cut into chunks of ``rows`` entries (one empty chunk for an empty batch)."""
    if not len(batch):
        yield batch
        return
    for start in range(0, len(batch), rows):
        yield batch.iloc[start : start + rows]


class IdxTracker:
    """Remembers a 64-bit value per idx seen, to find a duplicate across chunks.

    The value of a content-hash idx (16 hex digits) is the hash itself, which the reader already
    has (no work per idx); any other idx's is an xxh3 hash of its text.  Equal idx always give
    equal values; equal values of unequal idx (a rare collision) only make the caller re-read the
    file whole to check.
    """

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    def add_keys(self, keys: Any) -> None:
        """The keys a batch's idx were checked by (:meth:`ReadJsonl.batch_and_keys`)."""
        if isinstance(keys, np.ndarray) and keys.dtype == np.uint64:
            if len(keys):
                self._parts.append(keys)
            return
        values = list(keys)
        if values:
            hashes = text_hashes(values)  # xxh3 per idx: pandas' SipHash cost 3x more here
            for i, s in enumerate(values):
                if len(s) == 16 and _HEX16.fullmatch(s):  # what a content hash's idx would be
                    hashes[i] = int(s, 16)
            self._parts.append(hashes)

    def maybe_duplicated(self) -> bool:
        if len(self._parts) < 2:
            return False  # within one chunk the reader checked exactly
        h = np.sort(np.concatenate(self._parts))
        return bool((h[1:] == h[:-1]).any())


_HEX16 = re.compile("[0-9a-f]{16}")


def _records_batch(op: ReadJsonl, records: list[dict[str, Any]], where: Where) -> tuple[pd.DataFrame, Any]:
    """One chunk of records as a batch, exactly as ``ReadJsonl.read`` builds the whole one; its keys."""
    return op.batch_and_keys(records, where)


def _plain_chunks(op: ReadJsonl, block: Plain, path: Any, rows: int, tracker: IdxTracker) -> Iterator[pd.DataFrame]:
    """A plain block's batch (idx and values as from its records), ``rows`` entries at a time."""
    first = block.first
    df, keys = op.batch_of_columns(block.columns, Where(block.n, lambda i: f"{path}:{first + i}"), block.present)
    tracker.add_keys(keys)
    yield from slices(df, rows)


def _records_of(block: Plain) -> tuple[list[dict[str, Any]], np.ndarray]:
    """A plain block's records (rare: a block holding an ``idx`` or ``rev`` field)."""
    names = list(block.columns)
    cols = [block.columns[k].tolist() for k in names]
    records = [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]
    for k, has in block.present.items():  # a field a record lacks is absent, not None
        for i in np.flatnonzero(~has).tolist():
            del records[i][k]
    return records, np.arange(block.first, block.first + block.n)


def read_jsonl_chunks(op: ReadJsonl, rows: int) -> Iterator[pd.DataFrame]:
    """``op``'s entries, ``rows`` at a time (at least one chunk, empty for empty files)."""
    files = op.files()
    tracker = IdxTracker()
    records: list[dict[str, Any]] = []
    at: list[tuple[int, int]] = []
    produced = False

    def flush(n: int) -> pd.DataFrame:
        nonlocal records, at
        spots, taken = at[:n], records[:n]
        records, at = records[n:], at[n:]
        where = Where(len(taken), lambda i: f"{files[spots[i][0]]}:{spots[i][1]}")
        df, keys = _records_batch(op, taken, where)
        tracker.add_keys(keys)
        return df

    for fi, path in enumerate(files):
        try:
            for block in iter_jsonl_blocks(path, plain=True):  # blocks of lines parsed in C, not line by line
                if isinstance(block, Plain) and not (B.IDX in block.columns or B.REV in block.columns):
                    if records:  # the records before it first, in file order
                        produced = True
                        yield flush(len(records))
                    produced = True
                    yield from _plain_chunks(op, block, files[fi], rows, tracker)
                    continue
                if isinstance(block, Plain):  # an own idx or rev: the careful way
                    recs, numbers = _records_of(block)
                else:
                    recs, numbers = block
                records.extend(recs)
                at.extend(zip(itertools.repeat(fi), numbers.tolist()))
                while len(records) >= rows:
                    produced = True
                    yield flush(rows)
        except SourceError as e:
            raise SourceError(e.message, op=op, idx=e.idx, field=e.field) from e
    if records or not produced:
        yield flush(len(records))
    if tracker.maybe_duplicated():
        op.read(None)  # type: ignore[arg-type]  # names both records; returns only on a hash collision


def _aligned(parts: list[pd.DataFrame]) -> list[pd.DataFrame]:
    names: dict[str, None] = {}
    for p in parts:
        names.update(dict.fromkeys(p.columns))
    out = []
    for p in parts:
        missing = [c for c in names if c not in p.columns]
        if missing:
            none = {c: pd.Series(np.full(len(p), None, dtype=object), index=p.index, dtype=object) for c in missing}
            p = p.assign(**none)
        out.append(p[list(names)])
    kinds: dict[str, set[str]] = {}
    for p in out:
        for c in p.columns:
            kinds.setdefault(c, set()).add(str(p[c].dtype))
    mixed = [c for c, k in kinds.items() if len(k) > 1 and c != B.REV]
    if mixed:
        out = [p.astype({c: object for c in mixed}) for p in out]
    return out


def gather(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The chunks as one batch, typed as the whole-batch engine types it."""
    parts = [c for c in chunks if c is not None]
    nonempty = [c for c in parts if len(c)]
    if not nonempty:
        return B.concat(parts)  # as the whole-batch engine feeds an empty input: fields as objects
    if len(nonempty) == 1:
        return nonempty[0]
    if any(p.index.dtype != object for p in nonempty):  # not an idx (the spill's positions)
        return pd.concat(_aligned(nonempty), axis=0, sort=False)
    out = pd.concat(_aligned(nonempty), axis=0, sort=False, ignore_index=True)
    # the idx joined as objects, as the whole-batch engine keeps it (pd.concat would infer pandas'
    # ``str`` dtype for the joined index, copying every idx into Arrow: a third of a 1M-line read)
    idx = np.concatenate([p.index.to_numpy() for p in nonempty])
    return out.set_axis(pd.Index(idx, dtype=object, name=nonempty[0].index.name, copy=False), axis=0)
