"""What is checked and bounded before a call is paid (used by the call client, :mod:`bfnb.calls`).

* :func:`preflight`: fail before the first request when the answers could not be kept (a read-only
  ledger) or the endpoint has no such model (:mod:`bfnb.brokers.catalog`), instead of after paying.
* :func:`output_bound`: the output tokens a call may use (its max tokens × ``n``); under a budget a
  call that sets none is sent with :data:`BUDGET_OUTPUT_CAP` (or the model's lower limit), so the
  reservation made before sending is a real bound.
* :func:`worst_cost`: the most a set of calls can cost (a dry-run estimate, the pending line).
"""

from __future__ import annotations

import math
from typing import Any

from .errors import UnknownModelError

__all__ = [
    "BUDGET_OUTPUT_CAP",
    "check_model",
    "estimate_tokens",
    "output_bound",
    "output_cap",
    "preflight",
    "worst_cost",
]


def preflight(endpoint: Any, ledger: Any, *, op: str = "call") -> None:
    """Fail before paying: refuse to send calls whose answers could not be kept or cannot come.

    Raises :class:`~bfnb.errors.LedgerError` when the ledger cannot be written (every answer would
    be paid and lost) and :class:`~bfnb.errors.UnknownModelError` when the endpoint has no such
    model (:func:`check_model`).  A missing key or an unknown provider already failed when the
    endpoint was resolved (:func:`bfnb.calls.resolve_endpoint`).
    """
    from .errors import LedgerError

    if not getattr(ledger, "writable", True):
        raise LedgerError(f"the ledger {ledger.path} is read-only: nothing was sent (answers could not be kept)")
    check_model(endpoint, op)


def check_model(endpoint: Any, op: str) -> None:
    """Raise :class:`~bfnb.errors.UnknownModelError` if the endpoint's model is not one it has.

    bfnb's own catalog for the providers it knows (no request); otherwise the endpoint's
    ``GET /models``, once per endpoint per process, bounded by ``LIST_DEADLINE_S`` and skipped when
    it cannot tell (see :mod:`bfnb.brokers.catalog`).  A broker of the user's own is not checked.
    """
    resolved = endpoint.resolved
    if endpoint.broker is not None or resolved is None:
        return
    from .brokers import catalog
    from .options import options

    provider = resolved.requested_provider or resolved.provider.name  # offline: the provider it names
    allowed = options.unlisted_models
    known = catalog.catalog(provider)
    asks = endpoint.paid and not endpoint.mock and not resolved.offline and bool(endpoint.base_url)
    if known is not None:
        try:
            catalog.check_listed(endpoint.model, provider, known, source="not in bfnb's price table", op=op,
                                 allowed=allowed)  # fmt: skip
            return
        except UnknownModelError:
            # The provider pointed elsewhere (OPENAI_BASE_URL at a gateway or a vLLM): what that
            # endpoint lists is also a model it has; the error then names close names from both.
            from .brokers.providers import get_provider

            listed = (
                _listed(endpoint, resolved) if asks and endpoint.base_url != get_provider(provider).base_url else None
            )
            if not listed:
                raise
            source = f"not in bfnb's price table, and GET {endpoint.base_url}/models does not list it"
            catalog.check_listed(endpoint.model, provider, known | listed, source=source, op=op, allowed=allowed)
            return
    if not asks:
        return  # the local model answers any name; offline and mock runs never ask the network
    base_url = endpoint.base_url
    listed = _listed(endpoint, resolved)
    if listed:
        catalog.check_listed(endpoint.model, provider, listed, source=f"GET {base_url}/models does not list it",
                             op=op, allowed=allowed)  # fmt: skip


def _listed(endpoint: Any, resolved: Any) -> frozenset[str] | None:
    """The endpoint's ``GET /models`` list (once per endpoint per process; None: cannot tell)."""
    from .brokers import catalog
    from .executor.loop import run_sync

    base_url, key = endpoint.base_url, resolved.api_key
    headers = getattr(resolved.provider, "extra_headers", None)
    return catalog.listed_once(base_url, key, lambda: run_sync(catalog.list_models(base_url, key, headers)))


#: max tokens bfnb sets under a budget on a call that sets none (or the model's limit if lower)
BUDGET_OUTPUT_CAP = 4096


def output_cap(budget: Any, model: str) -> int | None:
    """Under a budget, the max tokens set on a chat call that sets none: min(the model's output
    limit, :data:`BUDGET_OUTPUT_CAP`); None without a budget (the call is sent as written)."""
    if budget is None or getattr(budget, "usd", None) is None:
        return None
    from .brokers.pricing import output_limit

    return min(output_limit(model) or BUDGET_OUTPUT_CAP, BUDGET_OUTPUT_CAP)


def estimate_tokens(n_bytes: int) -> int:
    """Tokens to pace by (TPM limiter): ~4 bytes per token, what the local server counts."""
    return max(1, math.ceil(n_bytes / 4))


def output_bound(body: dict[str, Any], estimate: int, cap: int | None) -> tuple[dict[str, Any], int]:
    """``(body to send, output tokens to reserve)`` for a chat request: its max tokens × ``n``.

    A request with no max tokens reserves ``estimate`` (for the TPM limiter); under a budget
    (``cap`` set) it is sent with ``max_completion_tokens=cap`` so the reservation is a real bound.
    The request's key is computed before, so the cap does not change which answer it finds.
    """
    n = int(body.get("n") or 1)
    mt = body.get("max_completion_tokens") or body.get("max_tokens")
    if mt:
        return body, int(mt) * n
    if cap is None:
        return body, estimate * n
    return {**body, "max_completion_tokens": cap}, cap * n


def worst_cost(broker: Any, jobs: Any) -> float | None:
    """The most ``jobs`` can cost: each call's input bytes and ``max_output_tokens`` at the model's
    price, as a budget reserves them; None when the price is unknown."""
    total = 0.0
    for j in jobs:
        usd = broker.cost(j.worst_input_tokens or j.est_input_tokens, j.max_output_tokens)
        if usd is None:
            return None
        total += usd
    return total
