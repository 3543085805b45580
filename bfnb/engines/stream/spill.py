"""Sort and Shuffle over more entries than fit in memory: spill to disk, reorder by buckets.

Both ops only reorder rows, and what decides the order is small: the sort fields (Sort) or just
the row count (Shuffle).  So:

1. each input chunk is pickled to a spill file, and its *skeleton* (the sort fields, indexed by
   position) is kept;
2. the op itself runs on the whole skeleton, which gives the exact order the whole-batch engine
   would give (same stable sort, same seeded permutation);
3. every row is appended to the bucket file of the output chunk it belongs to;
4. each bucket is read back, ordered, and passed on.

Memory holds the skeleton, two position arrays (8 bytes an entry each) and one chunk or bucket;
disk holds the data twice for a moment.  The spill folder is removed when the op is done, on
success or failure.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import batch as B
from ...errors import OpError
from ...op import rows as R
from .chunks import gather

__all__ = ["permuted", "skeleton_fields"]


def skeleton_fields(op: Any) -> list[str] | None:
    """The fields that decide ``op``'s order, or None when it cannot run on a skeleton."""
    if isinstance(op, R.Shuffle):
        return []
    if isinstance(op, R.Sort) and op.keys:
        return list(op.keys)
    return None


def _numeric_sort_order(op: Any, skeleton: pd.DataFrame) -> np.ndarray | None:
    """Sort's order straight from numeric key columns, as ``Sort.apply`` computes it (stable,
    NaN last) but without turning ten million numbers into Python objects first; None otherwise."""
    if not isinstance(op, R.Sort) or op.custom_func is not None:
        return None
    if any(k not in skeleton.columns or skeleton[k].dtype.kind not in "iufb" for k in op.keys):
        return None
    keys = skeleton.set_axis(pd.RangeIndex(len(skeleton)))  # the skeleton holds the keys only
    ordered = keys.sort_values(list(op.keys), ascending=not op.reverse, kind="stable", na_position="last")
    return ordered.index.to_numpy()


def _load_all(path: Path) -> Iterator[Any]:
    with path.open("rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


def permuted(
    op: Any, chunks: Iterator[pd.DataFrame], rows: int, call: Callable[[pd.DataFrame], pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    """``op``'s output over ``chunks``, ``rows`` at a time; ``call`` runs the op on a batch."""
    fields = skeleton_fields(op) or []
    folder = Path(tempfile.mkdtemp(prefix="bfnb-spill-"))
    try:
        spilled = folder / "input.pkl"
        skeletons: list[pd.DataFrame] = []
        sizes: list[int] = []
        empties: list[pd.DataFrame] = []
        first_idx = None
        with spilled.open("wb") as f:
            for c in chunks:
                if not len(c):
                    empties.append(c)
                    continue
                if first_idx is None:
                    first_idx = c.index[0]
                start = sum(sizes)
                # a field only later chunks have is None here, as in the whole batch (gather aligns)
                skel = c[[k for k in fields if k in c.columns]]  # the order reads no other column
                skeletons.append(skel.set_axis(pd.RangeIndex(start, start + len(c))))
                sizes.append(len(c))
                pickle.dump(c, f, protocol=5)
        n = sum(sizes)
        if not n:
            yield call(gather(empties) if empties else B.empty(fields))
            return
        whole = gather(skeletons)
        del skeletons
        try:
            order = _numeric_sort_order(op, whole)
            if order is None:
                order = call(whole).index.to_numpy()
        except OpError as e:  # name the entry the whole-batch engine names (the first), not a position
            raise type(e)(e.message, op=op, idx=first_idx, field=e.field) from e
        del whole
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n, dtype=np.int64)
        del order
        n_buckets = -(-n // rows)
        buckets = [folder / f"bucket_{b}.pkl" for b in range(n_buckets)]
        handles = [p.open("wb") for p in buckets]
        try:
            start = 0
            for chunk in _load_all(spilled):
                pos = inv[start : start + len(chunk)]
                which = pos // rows
                for b in np.unique(which):
                    mask = which == b
                    pickle.dump((pos[mask], chunk[mask]), handles[int(b)], protocol=5)
                start += len(chunk)
        finally:
            for h in handles:
                h.close()
        spilled.unlink()
        del inv
        for path in buckets:
            pieces = list(_load_all(path))
            path.unlink()
            positions = np.concatenate([p for p, _ in pieces])
            part = gather([c for _, c in pieces])
            yield part.iloc[np.argsort(positions, kind="stable")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
