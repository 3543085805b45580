"""Call records for ledger tests."""

from __future__ import annotations

import hashlib

from bfnb.ledger import CallRecord


def key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()[:32]


def record(i: int, status: str = "done", **kw: object) -> CallRecord:
    fields: dict[str, object] = dict(
        key=key(i),
        status=status,
        kind="chat",
        provider="openai",
        model="gpt-4o-mini",
        request={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"poem {i}"}]},
        response={"content": f"answer {i}", "finish_reason": "stop"} if status == "done" else None,
        input_tokens=10 + i % 7,
        output_tokens=20 if status == "done" else 0,
        cost_usd=0.001 if status == "done" else None,
        attempts=1 if status == "done" else 3,
        error=None if status == "done" else f"HTTP 500 on call {i}",
        t_sent=1_750_000_000.0 + i,
        t_done=1_750_000_000.5 + i,
        origin={"op": "poems", "idx": f"myths.md:{i}"},
    )
    fields.update(kw)
    return CallRecord(**fields)  # type: ignore[arg-type]
