"""Dollar cost of a call, from a price table users can extend.

Spend must be visible and a budget enforceable, so every call's usage is priced here.  The table
(``pricing.json`` beside this module, USD per 1M tokens) covers common models; ``register_price``
adds or overrides entries at run time.  A lookup tries ``model@provider``, then ``*@provider`` (every
model of a self-hosted or built-in provider is free), then ``model``, then the same for the model
without a date snapshot (``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mini``) or vendor prefix
(``openai/gpt-4o-mini`` → ``gpt-4o-mini``).  An unknown price is ``None``, never 0: a budget must
not mistake "unknown" for "free".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OUTPUT_LIMITS",
    "Price",
    "cost_usd",
    "format_cost",
    "lookup_price",
    "output_limit",
    "prices",
    "register_price",
    "total_usd",
    "variants",
]

_TABLE_FILE = Path(__file__).with_name("pricing.json")
_SNAPSHOT = re.compile(r"-(?:20\d{2}-\d{2}-\d{2}|\d{4})$")


@dataclass(frozen=True)
class Price:
    """USD per 1M input and output tokens, and the fraction taken off with the Batch API."""

    input_per_1m: float
    output_per_1m: float
    batch_discount: float = 0.5
    key: str = ""

    def cost(self, input_tokens: int, output_tokens: int = 0, *, batch: bool = False) -> float:
        """Cost in USD of one call's usage."""
        usd = (input_tokens * self.input_per_1m + output_tokens * self.output_per_1m) / 1e6
        return usd * (1.0 - self.batch_discount) if batch else usd


_prices: dict[str, Price] | None = None


def _table() -> dict[str, Price]:
    global _prices
    if _prices is None:
        raw = json.loads(_TABLE_FILE.read_text(encoding="utf-8"))["prices"]
        _prices = {
            k.lower(): Price(float(v["input"]), float(v["output"]), float(v.get("batch_discount", 0)), k.lower())
            for k, v in raw.items()
        }
    return _prices


def prices() -> dict[str, Price]:
    """A copy of the price table, by key (``model`` or ``model@provider``)."""
    return dict(_table())


def _key(model: str, provider: str | None) -> str:
    return f"{model}@{provider}" if provider else model


def register_price(
    model: str,
    provider: str | None = None,
    *,
    input_per_1m: float,
    output_per_1m: float = 0.0,
    batch_discount: float = 0.5,
) -> Price:
    """Add or override a price (USD per 1M tokens); ``provider=None`` applies to every provider.

    ``model="*"`` with a provider prices every model of that provider.

    >>> register_price("my-model", "myproxy", input_per_1m=1.0, output_per_1m=2.0).cost(1_000_000, 0)
    1.0
    """
    if not 0.0 <= batch_discount <= 1.0:
        raise ValueError(f"batch_discount is a fraction between 0 and 1, got {batch_discount!r}")
    if input_per_1m < 0 or output_per_1m < 0:
        raise ValueError("prices cannot be negative")
    key = _key(model.strip().lower(), provider.strip().lower() if provider else None)
    price = Price(float(input_per_1m), float(output_per_1m), float(batch_discount), key)
    _table()[key] = price
    return price


def variants(model: str) -> list[str]:
    """The model name, then without a vendor prefix, then without a date snapshot."""
    out = [model]
    if "/" in model:
        out.append(model.rsplit("/", 1)[1])
    for m in list(out):
        base = _SNAPSHOT.sub("", m)
        if base != m:
            out.append(base)
    return out


def lookup_price(model: str, provider: str | None = None) -> Price | None:
    """The price of ``model`` at ``provider``, or None when the table does not know it."""
    table = _table()
    model = model.strip().lower()
    provider = provider.strip().lower() if provider else None
    if "@" in model and provider is None:
        model, _, provider = model.rpartition("@")
    for m in variants(model):
        candidates = [f"{m}@{provider}", f"*@{provider}", m] if provider else [m]
        for key in candidates:
            if key in table:
                return table[key]
    return None


#: most output tokens one call of a model can return (the longest answer a budget must allow for)
OUTPUT_LIMITS: dict[str, int] = {
    "gpt-4o-mini": 16_384, "gpt-4o": 16_384, "gpt-4.1": 32_768, "gpt-4.1-mini": 32_768,
    "gpt-4.1-nano": 32_768, "gpt-4-turbo": 4_096, "gpt-3.5-turbo": 4_096, "o1": 100_000,
    "o3": 100_000, "o3-mini": 100_000, "o4-mini": 100_000,
}  # fmt: skip


def output_limit(model: str) -> int | None:
    """The most output tokens ``model`` returns in one call, or None when unknown."""
    for m in variants(model.strip().lower()):
        if m in OUTPUT_LIMITS:
            return OUTPUT_LIMITS[m]
    return None


def cost_usd(
    model: str,
    provider: str | None,
    input_tokens: int,
    output_tokens: int = 0,
    batch: bool = False,
) -> float | None:
    """Cost in USD of one call, or None when its price is unknown (never a silent 0)."""
    price = lookup_price(model, provider)
    return None if price is None else price.cost(input_tokens, output_tokens, batch=batch)


def total_usd(costs: Iterable[float | None]) -> float | None:
    """The sum of ``costs``, or None when any is unknown: an unknown cost never counts as 0."""
    total = 0.0
    for c in costs:
        if c is None:
            return None
        total += c
    return total


def format_cost(usd: float | None) -> str:
    """``$0.0123``-style text; ``"unknown"`` for an unknown cost."""
    if usd is None:
        return "unknown"
    if usd == 0:
        return "$0.00"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    if abs(usd) >= 0.01:
        return f"${usd:.4f}"
    digits = min(12, 1 - math.floor(math.log10(abs(usd))))  # two significant digits
    return f"${usd:.{digits}f}"
