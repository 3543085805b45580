"""``bf.compare(g1, g2)``: two versions of a graph side by side, per idx, with lengths and cost."""

from __future__ import annotations

from typing import Any

__all__ = ["compare"]


def compare(
    a: Any,
    b: Any,
    field: str | tuple[str, str] = "text",
    *,
    labels: tuple[str, str] = ("A", "B"),
) -> Any:
    """Run both graphs (each from the memo and the ledger where it can) and show ``field`` per idx."""
    from .display import CompareView
    from .options import options

    ra, rb = a.run(), b.run()
    ca = a.last_run.cost_usd if a.last_run is not None else None
    cb = b.last_run.cost_usd if b.last_run is not None else None
    return CompareView(ra, rb, field, labels=labels, cost_a=ca, cost_b=cb,
                       max_rows=options.display.max_rows, max_chars=options.display.max_chars)
