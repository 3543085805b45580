"""The call ledger: one durable, content-addressed record of every expensive call in a project.

``Ledger(folder)`` opens (or creates) ``folder/calls.jsonl``: an append-only JSONL file, one
:class:`CallRecord` per line, written the moment each call completes and indexed by key on open
without parsing JSON (a million records in about a second).  ``folder/origins.jsonl`` remembers
which op entry asked for which key, so ``g.explain()`` can say what part of a request changed::

    import bfnb as bf

    ledger = bf.Ledger("data/projects/poems/ledger")
    ledger.stats()        # {'calls': 20, 'done': 19, 'failed': 1, 'total_tokens': 2400, ...}
    ledger.to_pandas()    # one row per call: key, status, model, tokens, cost, request, response

Store internals live in :mod:`.store` (file and locking) and :mod:`.index` (the key index).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .claims import Claim, ClaimStore, FileClaimStore
from .origins import Origins, diff_requests
from .records import CallRecord, Status
from .store import CALLS_FILE, Ledger

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALLS_FILE",
    "CallRecord",
    "Claim",
    "ClaimStore",
    "FileClaimStore",
    "Ledger",
    "Origins",
    "Status",
    "diff_requests",
    "records_frame",
    "tally",
]

_INT = ("input_tokens", "output_tokens", "attempts")
COLUMNS = (
    "key", "status", "kind", "provider", "model", "input_tokens", "output_tokens", "total_tokens",
    "cost_usd", "attempts", "error", "t_sent", "t_done", "batch", "origin_op", "origin_idx",
    "request", "response",
)  # fmt: skip


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
