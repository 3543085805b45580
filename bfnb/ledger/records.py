"""What the ledger stores for one expensive call.

A record is keyed by the content of the request (see :mod:`bfnb.keys`), never by an entry, so
identical requests from different entries share one paid call.  The request stored here is the body
sent to the provider: API keys travel in headers and never reach a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["CallRecord", "Status"]


class Status:
    """Terminal states of a call: ``DONE`` (answered) or ``FAILED`` (gave up after its last attempt)."""

    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class CallRecord:
    key: str
    status: str  # Status.DONE | Status.FAILED
    kind: str  # "chat" | "embedding" | "batch" | "human"
    provider: str
    model: str
    request: dict[str, Any]
    response: dict[str, Any] | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None: price unknown
    attempts: int = 1
    error: str | None = None
    t_sent: float = 0.0
    t_done: float = 0.0
    batch: bool = False  # answered through the Batch API (half price)
    origin: dict[str, Any] = field(default_factory=dict)  # {"op": label, "idx": entry idx} of the first asker

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
