"""What the ledger stores for one expensive call, and its line in ``calls.jsonl``.

A record is keyed by the content of the request (see :mod:`bfnb.keys`), never by an entry, so
identical requests from different entries share one paid call.  The request stored here is the body
sent to the provider: API keys travel in headers and never reach a record.

Every line of ``calls.jsonl`` is one record as a JSON object whose key and status come first, so
that they sit at fixed byte positions and the index can be built without parsing JSON::

    {"key":"<32 hex digits>","status":"done",...the rest of the record...}\\n      (or "failed")

Right after the status come the usage numbers (so ``Ledger.stats`` reads them with a regex), the
other scalars, and last the request and response.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from ..errors import LedgerError
from ..keys import SECRET_FIELDS, json_default

__all__ = ["HEAD_SIZE", "RECORD_FIELDS", "CallRecord", "Status", "decode", "encode", "is_key", "to_record", "usage_at"]


class Status:
    """Terminal states of a call: ``DONE`` (answered) or ``FAILED`` (gave up after its last attempt)."""

    DONE = "done"
    FAILED = "failed"


@dataclass
class CallRecord:
    """One finished call: what ``Ledger.get`` and ``Ledger.get_many`` return (``bf.CallRecord``).

    ``status`` is ``"done"`` or ``"failed"``; ``kind`` the type of call (``"chat"``,
    ``"embedding"``, ``"human"``); ``cost_usd`` is None when the price is unknown; ``t_sent`` and
    ``t_done`` are Unix seconds; ``batch`` says it was answered through the Batch API (half price);
    ``origin`` is ``{"op": label, "idx": entry idx}`` of the first entry that asked for it.
    """

    key: str
    status: str
    kind: str
    provider: str
    model: str
    request: dict[str, Any]
    response: dict[str, Any] | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    attempts: int = 1
    error: str | None = None
    t_sent: float = 0.0
    t_done: float = 0.0
    batch: bool = False
    origin: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # shallow on purpose: asdict() deep-copies every request and response (≈1.7 ms a record)
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CallRecord:
        try:  # the common case: exactly the record's fields
            return cls(**d)
        except TypeError:
            pass
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


_FIELDS = tuple(f.name for f in fields(CallRecord))
RECORD_FIELDS = frozenset(_FIELDS)
_new_record = object.__new__


def to_record(d: dict[str, Any]) -> CallRecord:
    """A decoded line -> its :class:`CallRecord` (the dict becomes the record's attributes).

    A line that :func:`encode` wrote has exactly the record's fields, and taking its dict as the
    instance's ``__dict__`` costs a tenth of calling the constructor: a cached re-run builds
    hundreds of thousands of these.  Other layouts (an older or newer bfnb) go through the
    constructor, which fills defaults and drops unknown fields.
    """
    if d.keys() == RECORD_FIELDS:
        rec: CallRecord = _new_record(CallRecord)
        rec.__dict__ = d
        return rec
    try:
        return CallRecord.from_dict(d)
    except TypeError as e:
        raise LedgerError(f"the ledger record {d.get('key')!r} is incomplete: {e}") from e


# --- the line format ---------------------------------------------------------------------

HEAD_SIZE = 56  # '{"key":"' + 32 hex digits + '","status":"' + 'done' or 'fail'
is_key = re.compile(r"[0-9a-f]{32}\Z").match
_DUMP_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
_STATUSES = (Status.DONE, Status.FAILED)
_FIRST = ("input_tokens", "output_tokens", "cost_usd", "attempts", "batch", "t_sent", "t_done")
_LAST = ("request", "response")
_LINE_ORDER = (*_FIRST, *(f for f in _FIELDS if f not in (*_FIRST, *_LAST, "key", "status")), *_LAST)
_get_fields = operator.attrgetter(*_LINE_ORDER)
_USAGE = re.compile(rb'(?:ed)?","input_tokens":(\d+),"output_tokens":(\d+),"cost_usd":([^,]*),')


def encode(record: CallRecord) -> tuple[bytes, str, bool]:
    """One record -> (its line, key, done)."""
    status = record.status
    if status not in _STATUSES:
        raise LedgerError(f"a call record's status must be 'done' or 'failed', not {record.status!r}")
    key = record.key
    if type(key) is not str or not is_key(key):
        raise LedgerError(f"a call record's key must be 32 lowercase hex digits, not {key!r}")
    d = {"key": key, "status": status}
    d.update(zip(_LINE_ORDER, _get_fields(record), strict=True))
    req = d["request"]
    if isinstance(req, dict) and not SECRET_FIELDS.isdisjoint(req):
        d["request"] = {k: v for k, v in req.items() if k not in SECRET_FIELDS}
    try:
        return orjson.dumps(d, default=json_default, option=_DUMP_OPTS), key, status == Status.DONE
    except TypeError as e:
        raise LedgerError(f"cannot store the call record {key}: {e}") from e


def decode(line: bytes | memoryview) -> dict[str, Any] | None:
    """A line -> the record as a plain dict with CallRecord's field names (None if unreadable)."""
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return d if type(d) is dict else None


def usage_at(block: bytes, starts: Iterable[int]) -> list[tuple[bytes, bytes, bytes] | None]:
    """(input tokens, output tokens, cost) as written, for lines starting at ``starts`` in ``block``.

    :func:`encode` puts these numbers right after the status, so they are read without parsing
    the JSON; None for a line written in another layout.
    """
    match = _USAGE.match
    return [m.groups() if (m := match(block, p + HEAD_SIZE)) is not None else None for p in starts]  # type: ignore[misc]
