"""The call ledger: one durable, content-addressed record of every expensive call in a project.

``Ledger(folder)`` opens (or creates) ``folder/calls.jsonl``: an append-only JSONL file, one
:class:`CallRecord` per line, written the moment each call completes and indexed by key on open
without parsing JSON (a million records in about a second).  ``folder/origins.jsonl`` remembers
which op entry asked for which key, so ``g.explain()`` can say what part of a request changed::

    import bfnb as bf

    ledger = bf.Ledger("data/projects/poems/ledger")
    ledger.stats()        # {'calls': 20, 'done': 19, 'failed': 1, 'total_tokens': 2400, ...}
    ledger.to_pandas()    # one row per call: key, status, model, tokens, cost, request, response

Modules: :mod:`.store` (the Ledger), :mod:`.records` (CallRecord and its line), :mod:`.index`
(the key index), :mod:`.appendlog` (the locked append-only file), :mod:`.claims` (who is sending
what), :mod:`.frame` (``to_pandas`` and ``stats``), :mod:`.origins` (which entry asked for what).
"""

from __future__ import annotations

from .claims import Claim, ClaimStore, FileClaimStore
from .frame import COLUMNS, records_frame, tally
from .origins import Origins, diff_requests
from .records import CallRecord, Status
from .store import CALLS_FILE, Ledger

__all__ = [
    "CALLS_FILE",
    "COLUMNS",
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
