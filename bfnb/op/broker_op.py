"""BrokerOp: the base of every op whose work is expensive calls (AskLLM, EmbedText, AskHuman, ...).

A broker op only *renders requests* and *reads records*; the call client (:mod:`bfnb.calls`,
``ctx.calls``) does the rest: keys, ledger, claims, broker, budget, ledger write.  ``run`` is:

    rows still active (not failed or pending upstream)
      → ``endpoint()``                      who answers, resolved once per run
      → ``requests(rows, endpoint)``        one provider request body per row
      → ``ctx.calls.fetch(...)``            records (or None: not answered yet)
      → ``read(rows, calls)``               the op's output fields
      + status / error fields, merged back into the batch (other rows keep their values).

The endpoint's identity (provider, base URL and model that actually answer) is part of the op's
fingerprint, so a result computed offline is never served once a key is set, nor one endpoint's
answers for another.  Ops that send to several endpoints (``CallLLM``: a model per request)
override :meth:`fetch` instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import batch as B
from ..project import current_project
from .checkpoint import Persisted
from .keywords import SeedBrokerKeywords, seed_broker_keywords
from .op import Op, RunContext

__all__ = ["ROW_ERRORS", "BrokerOp", "active_mask", "answering_model", "merge_rows"]

#: a field ``read()`` may return: per row, None or why an answered call is still a failed row (the
#: answer fails its schema).  Such a row is failed with that error; the call stays answered in the
#: ledger, so a re-run reads it again instead of paying again.
ROW_ERRORS = "__row_errors__"

#: upstream statuses a broker op leaves alone (passes the row through untouched)
SKIP = ("failed", "pending")
#: the values a broker op writes in its status field
STATUSES = ("done", "failed", "pending")


def active_mask(b: pd.DataFrame, status_key: str = B.STATUS) -> np.ndarray:
    """Rows a broker op should work on (not already failed or pending upstream)."""
    if status_key not in b.columns:
        return np.ones(len(b), dtype=bool)
    return ~b[status_key].isin(SKIP).to_numpy()


def merge_rows(b: pd.DataFrame, mask: np.ndarray, fields: dict[str, list[Any]]) -> pd.DataFrame:
    """Set ``fields`` on the masked rows; other rows keep their values (None where new)."""
    if mask.all():
        return B.with_fields(b, fields)
    full: dict[str, Any] = {}
    positions = np.flatnonzero(mask)
    for k, vals in fields.items():
        col = b[k].to_numpy(dtype=object).copy() if k in b.columns else np.full(len(b), None, dtype=object)
        for j, v in zip(positions.tolist(), vals, strict=True):
            col[j] = v
        full[k] = col
    return B.with_fields(b, full)


class BrokerOp(Persisted, Op):
    """Base of ops whose entries are answered by a broker through the call client."""

    kind = "broker"
    #: "chat" | "embedding" | "human": the kind of call, part of its key
    call_kind = "chat"
    status_key = "status"
    error_key = "error"
    batch = False
    model: str | None = None
    #: a bfnb broker that answers instead of the registry's (the seed's ``broker=``)
    broker: Any = None
    failure_behavior: Any = "emit"

    def init_broker_op(self, seed_keywords: SeedBrokerKeywords) -> None:
        """What every broker op's constructor ends with: the project it belongs to (where its calls
        are kept), and batchfactory's broker keywords, honoured or warned about once."""
        self._project = current_project()
        seed_broker_keywords(self, **seed_keywords)

    # --- what a subclass writes -----------------------------------------------------------------

    def requests(self, rows: pd.DataFrame, endpoint: Any) -> list[dict[str, Any]]:
        """One provider request body per row."""
        raise NotImplementedError

    def read(self, rows: pd.DataFrame, calls: Any) -> dict[str, list[Any]]:
        """The output fields (besides status and error) from ``calls.records``, one value per row."""
        raise NotImplementedError

    def max_output_tokens(self) -> int:
        """The output tokens a call may use (what a budget and the TPM limiter reserve)."""
        return 0

    def endpoint(self, ctx: RunContext | None = None) -> Any:
        """Who answers, resolved now (raises at once when a key is missing)."""
        from ..calls import resolve_endpoint

        if self.broker is not None:  # its own broker: named by its provider and model
            from ..calls import Endpoint

            b = self.broker
            return Endpoint(self.call_kind, str(b.provider), "", str(b.model), broker=b)
        if self.model is None:
            raise NotImplementedError(f"{type(self).__name__} names no model; override endpoint()")
        return resolve_endpoint(self.call_kind, self.model)

    # --- the one run --------------------------------------------------------------------------

    def extra_fingerprint(self) -> str:
        """Who answers (provider, base URL, model): offline and online results never mix."""
        return self.endpoint().identity

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        b = inputs[0]
        self.check_bookkeeping(b)
        mask = active_mask(b, self.status_key)
        rows = b[mask] if not mask.all() else b
        arrivals = None
        if ctx.partial is not None:  # someone may look at the rows answered so far
            from ..calls import Arrivals

            arrivals = Arrivals()
            ctx.partial.feed(ctx.node_id, lambda: self.rows_answered(rows, arrivals), total=len(rows))
        calls = self.fetch(rows, ctx, arrivals=arrivals)
        calls.add_to(ctx)
        fields = self.read(rows, calls)
        status, errors = calls.status(), calls.errors()
        row_errors = fields.pop(ROW_ERRORS, None)
        if row_errors is not None:  # answers that came back but cannot be used (a schema they fail)
            for i, err in enumerate(row_errors):
                if err is not None and status[i] == "done":
                    status[i], errors[i] = "failed", err
        fields[self.status_key] = status
        fields[self.error_key] = errors
        out = merge_rows(b, mask, fields)
        if self.failure_behavior == "stay":  # the seed's STAY: failed rows are not emitted
            out = out[(out[self.status_key] != "failed").to_numpy()]
        return [out]

    def check_bookkeeping(self, b: pd.DataFrame) -> None:
        """Refuse a user field where this op writes its bookkeeping, naming it and the keyword that renames it.

        A status field of an earlier broker op (values done/failed/pending) is bookkeeping, shared on
        purpose, and so are that op's error and finish-reason fields; any other status value, or an
        error/finish-reason field with no bookkeeping status beside it, is the user's data, which the
        op would overwrite.
        """
        if not len(b):
            return
        col = self.status_key
        if col in b.columns:
            try:
                foreign = sorted({str(v) for v in b[col].dropna().unique()} - set(STATUSES))
            except TypeError:  # unhashable values (lists, dicts): certainly not a status
                foreign = ["<non-text values>"]
            if not foreign:
                return  # an earlier broker op's bookkeeping: its error/finish fields are bookkeeping too
            shown = ", ".join(repr(v) for v in foreign[:3])
            self._refuse(col, f"values {shown}", "status", "status_key")
        clash = [
            (getattr(self, a, None), what, a)
            for a, what in (("error_key", "error"), ("finish_reason_key", "finish reason"))
        ]
        clash = [c for c in clash if c[0] and c[0] in b.columns]
        if clash and not any(_is_status(b[c]) for c in b.columns):  # no broker op wrote these
            name, what, attr = clash[0]
            self._refuse(str(name), "no bookkeeping status beside it", what, attr)

    def _refuse(self, col: str, seen: str, what: str, keyword: str) -> None:
        from ..errors import OpError

        raise OpError(
            f"the input has a field {col!r} ({seen}) where {type(self).__name__} writes each call's "
            f"{what}; nothing was sent. Rename bfnb's field with {keyword}='...', or rename yours",
            op=self, field=col,
        )  # fmt: skip

    def fetch(self, rows: pd.DataFrame, ctx: RunContext, arrivals: Any = None) -> Any:
        """Render the rows' requests and get their records from the call client."""
        ep = self.endpoint(ctx)
        bodies = self.requests(rows, ep)
        return client_of(ctx).fetch(ep, bodies, op=self.label(), idxs=list(rows.index),
                                    max_output_tokens=self.max_output_tokens(), batch=self.batch,
                                    project=self._project, arrivals=arrivals)  # fmt: skip

    def rows_answered(self, rows: pd.DataFrame, arrivals: Any) -> pd.DataFrame:
        """This op's output rows for the requests answered so far (from the ledger or just now)."""
        from ..calls import Calls

        got = dict(arrivals.records)  # a snapshot: the loop thread keeps adding
        keys = arrivals.keys
        if not got or len(keys) != len(rows):
            return rows.iloc[:0]
        pos = [i for i, k in enumerate(keys) if k in got]
        sub = rows.iloc[pos]
        calls = Calls([keys[i] for i in pos], [got[keys[i]] for i in pos])
        fields = self.read(sub, calls)
        fields[self.status_key] = calls.status()
        fields[self.error_key] = calls.errors()
        return merge_rows(sub, np.ones(len(sub), dtype=bool), fields)


def _is_status(col: pd.Series) -> bool:
    """A broker op's status field (under any ``status_key``): every value done/failed/pending."""
    try:
        values = set(col.dropna().unique())
    except TypeError:  # unhashable values: not a status
        return False
    return bool(values) and values <= set(STATUSES)


def answering_model(op: Any) -> str:
    """The model asked for and, when another answers, who: ``gpt-4o-mini@openai → local model``."""
    asked = str(getattr(op, "model", None) or "?")
    try:
        ep = op.endpoint()
    except Exception:  # a display must not raise; the run will say what is wrong
        return asked
    local = getattr(ep, "provider", None) == "local" or bool(getattr(ep, "mock", False))
    return f"{asked} → local model" if local and not asked.endswith("@local") else asked


def client_of(ctx: RunContext) -> Any:
    """The run's call client (an op run outside the executor gets a fresh one)."""
    if ctx.calls is None:
        from ..calls import CallClient

        ctx.calls = CallClient(project=ctx.project, budget=ctx.budget, dispatch=ctx.dispatch_brokers, run_id=ctx.run_id)
    return ctx.calls
