"""The ledger as a table: ``Ledger.to_pandas()`` and the totals of ``Ledger.stats()``.

``to_pandas()`` has one row per key (its winning record), in the order calls finished, and
exactly the columns of :data:`COLUMNS`, in that order, whatever the records hold:

=================  =========  ====================================================================
column             dtype      meaning
=================  =========  ====================================================================
key                object     the request key (32 hex digits of the request's content hash)
status             object     ``"done"`` or ``"failed"``
kind               object     ``"chat"``, ``"embedding"``, ``"human"``
provider           object     the provider that answered (``"openai"``, ``"local"``, ...)
model              object     the model that answered
input_tokens       int64      prompt tokens (0 when unknown)
output_tokens      int64      completion tokens
total_tokens       int64      input + output
cost_usd           float64    dollars; NaN when the price is unknown
attempts           int64      requests sent for this call (retries included)
error              object     the last error of a failed call, else None
t_sent             float64    Unix seconds of the first attempt
t_done             float64    Unix seconds of the answer (or the last failure)
batch              bool       answered through the Batch API (half price)
origin_op          object     the op that first asked for it
origin_idx         object     the entry idx that first asked for it
request            object     the request body as sent (a dict, never an API key)
response           object     the response (a dict; None for a failed call)
=================  =========  ====================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "records_frame", "tally"]

_INT = ("input_tokens", "output_tokens", "attempts")
COLUMNS = (
    *("key", "status", "kind", "provider", "model"),
    *("input_tokens", "output_tokens", "total_tokens", "cost_usd", "attempts", "error", "t_sent", "t_done"),
    *("batch", "origin_op", "origin_idx", "request", "response"),
)


def records_frame(chunks: Iterable[list[dict[str, Any]]]) -> pd.DataFrame:
    """Lists of record dicts -> a DataFrame with :data:`COLUMNS` (``Ledger.to_pandas``).

    Token counts and the cost are flat numeric columns (``cost_usd`` is NaN where the price is
    unknown, ``total_tokens`` is input + output); ``origin`` becomes ``origin_op`` and
    ``origin_idx``; text stays as Python ``str``/None (object dtype); ``request`` and ``response``
    stay dicts.  Times are Unix seconds.
    """
    import numpy as np
    import pandas as pd

    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    plain = [c for c in COLUMNS if c not in ("total_tokens", "origin_op", "origin_idx")]
    for chunk in chunks:
        for c in plain:
            cols[c].extend([r.get(c) for r in chunk])
        origins = [r.get("origin") or {} for r in chunk]
        cols["origin_op"].extend([o.get("op") for o in origins])
        cols["origin_idx"].extend([o.get("idx") for o in origins])

    def obj(values: list[Any]) -> np.ndarray:
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr

    data: dict[str, Any] = {}
    for c in COLUMNS:
        v = cols[c]
        if c in _INT:
            data[c] = np.array([x or 0 for x in v], dtype=np.int64)
        elif c in ("cost_usd", "t_sent", "t_done"):
            data[c] = np.array([np.nan if x is None else x for x in v], dtype=np.float64)
        elif c == "batch":
            data[c] = np.array([bool(x) for x in v], dtype=bool)
        elif c == "total_tokens":
            continue
        else:
            data[c] = obj(v)
    data["total_tokens"] = data["input_tokens"] + data["output_tokens"]
    return pd.DataFrame({c: pd.Series(data[c], dtype=data[c].dtype, copy=False) for c in COLUMNS})


def tally(done: list[bool], usage: list[tuple[bytes, bytes, bytes]]) -> dict[str, Any]:
    """Per call: done?, and (input tokens, output tokens, cost) as written in its line (``b"31"``,
    ``b"null"``) -> the totals of ``Ledger.stats``."""
    tin, tout, cost = zip(*usage, strict=True) if usage else ((), (), ())
    n_done, n_in, n_out = sum(done), sum(map(int, tin)), sum(map(int, tout))
    return {
        "calls": len(done),
        "done": n_done,
        "failed": len(done) - n_done,
        "input_tokens": n_in,
        "output_tokens": n_out,
        "total_tokens": n_in + n_out,
        "cost_usd": sum(map(float, [c for c in cost if c != b"null"])),
        "cost_unknown": sum(c == b"null" and d for c, d in zip(cost, done, strict=True)),  # done, price unknown
    }
