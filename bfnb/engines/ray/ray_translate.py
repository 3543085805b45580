"""Ray Data translation, op by op (one single-dispatch registration per op family).

``translate(op, ds, run)`` returns the Ray Dataset that computes ``op`` over ``ds``, or ``None``
when the op runs on the driver (the engine then gathers its input, runs the op as the local engine
does, and scatters its output again).  What runs where:

* row-wise ops (the stream engine's ``rowwise`` steps: maps, filters, field edits, explode,
  request building) → ``map_batches`` over carrier batches on the workers (:mod:`.carrier`); the
  op itself runs on a real bfnb batch;
* ``Sort`` on one field → Ray's ``sort`` (nulls last, as locally); ``Shuffle`` → ``random_shuffle``;
  ``TakeFirstN`` → ``limit`` (order preserved); ``SampleProportion`` → ``random_sample`` (seeded,
  but not the local engine's sample);
* broker ops → ``map_batches`` too, through :mod:`.ray_calls` (the engine calls it: it needs the
  run's ledger);
* writers, collectors, loops and multi-port ops → the driver.
"""

from __future__ import annotations

import base64
import math
import pickle
import re
from functools import singledispatch
from typing import Any

import pandas as pd

from ...errors import BfnbError, OpError, _op_label
from ...op import rows
from ...op.op import Op, RunContext, columns_of
from ..stream.stream_translate import step
from .carrier import decode, encode

__all__ = ["CarriedError", "RowwiseFn", "carried", "guarded", "translate"]


_MARK = re.compile(r"<<bfnb-error:([A-Za-z0-9+/=]+)>>")


class CarriedError(Exception):
    """A bfnb error raised on a worker, carried in its message (Ray keeps a worker's message and
    traceback text, not the exception chain); :func:`carried` rebuilds it on the driver."""

    def __init__(self, error: BfnbError) -> None:
        if isinstance(error, OpError):
            parts: tuple[Any, ...] = (type(error), error.message, _op_label(error.op), error.idx, error.field)
        else:
            parts = (type(error), str(error), None, None, None)
        super().__init__(f"<<bfnb-error:{base64.b64encode(pickle.dumps(parts)).decode()}>> {error}")


def carried(exc: BaseException) -> BfnbError | None:
    """The bfnb error a worker raised, from anywhere in a Ray exception's text; None if none."""
    text = f"{exc} {getattr(exc, 'traceback_str', '')}"
    m = _MARK.search(text)
    if m is None:
        return None
    cls, message, op, idx, field = pickle.loads(base64.b64decode(m.group(1)))
    if issubclass(cls, OpError):
        return cls(message, op=op, idx=idx, field=field)
    return cls(message)


def guarded(fn: Any) -> Any:
    """Wrap a worker function so a bfnb error reaches the driver whole (see :class:`CarriedError`)."""

    def call(self: Any, carrier: pd.DataFrame) -> pd.DataFrame:
        try:
            return fn(self, carrier)
        except BfnbError as e:
            raise CarriedError(e) from e

    return call


class RowwiseFn:
    """The function ``map_batches`` runs on a worker: carrier → batch → op → batch → carrier."""

    def __init__(self, op: Op, label: str, fingerprint: str) -> None:
        self.op, self.label, self.fingerprint = op, label, fingerprint

    @guarded
    def __call__(self, carrier: pd.DataFrame) -> pd.DataFrame:
        from ...executor.run import _run_op

        batch = decode(carrier)
        ctx = RunContext(run_id="ray", node_id=0, label=self.label, fingerprint=self.fingerprint)
        return encode(_run_op(self.op, [batch], ctx)[0])


@singledispatch
def translate(op: Op, ds: Any, run: Any) -> Any:
    """The Dataset computing ``op`` over ``ds``; None: run ``op`` on the driver."""
    if step(op).kind == "rowwise":
        return ds.map_batches(RowwiseFn(op, op.label(), ""), batch_format="pandas", batch_size=run.batch_rows)
    return None


@translate.register
def _(op: rows.Shuffle, ds: Any, run: Any) -> Any:
    seed = op.seed if isinstance(op.seed, int) else None
    return ds.random_shuffle(seed=seed)


@translate.register
def _(op: rows.SampleProportion, ds: Any, run: Any) -> Any:
    # Ray's sample: seeded, but another sample than the local engine's (which hashes each idx)
    from ...fingerprint import hash_bytes

    return ds.random_sample(op.p, seed=int(hash_bytes(repr(op.seed).encode())[:8], 16))


@translate.register
def _(op: rows.TakeFirstN, ds: Any, run: Any) -> Any:
    if op.offset:
        return None  # Ray Data has no offset: the driver slices [offset, offset + n)
    return ds.limit(op.n)


def _null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


class SortKeys:
    """Adds ``_null`` and ``_key`` columns Ray can sort by (one field, None/NaN last)."""

    def __init__(self, op: rows.Sort) -> None:
        self.op, self.field = op, op.keys[0]

    @guarded
    def __call__(self, carrier: pd.DataFrame) -> pd.DataFrame:
        values = columns_of(decode(carrier), [self.field], self.op)[0] if len(carrier) else []
        nulls = [_null(v) for v in values]
        present = [v for v, n in zip(values, nulls, strict=True) if not n]
        filler: Any = "" if present and isinstance(present[0], str) else 0
        out = carrier.copy()
        out["_null"] = nulls
        out["_key"] = [filler if n else v for v, n in zip(values, nulls, strict=True)]
        return out


@translate.register
def _(op: rows.Sort, ds: Any, run: Any) -> Any:
    if op.custom_func is not None or len(op.keys) != 1:
        return None
    keyed = ds.map_batches(SortKeys(op), batch_format="pandas", batch_size=run.batch_rows)
    ordered = keyed.sort(["_null", "_key"], descending=[False, op.reverse])
    return ordered.drop_columns(["_null", "_key"])
