"""What is checked and bounded before a call is paid (used by the call client, :mod:`bfnb.calls`).

* :func:`preflight`: fail before the first request when the answers could not be kept (a read-only
  ledger), instead of after paying for them.
* :func:`output_bound`: the output tokens a call may use (its max tokens × ``n``); under a budget a
  call that sets none is sent with :data:`BUDGET_OUTPUT_CAP` (or the model's lower limit), so the
  reservation made before sending is a real bound.
* :func:`worst_cost`: the most a set of calls can cost (a dry-run estimate, the pending line).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUDGET_OUTPUT_CAP", "output_bound", "preflight", "worst_cost"]

_models_checked: dict[tuple[str, str], bool] = {}


def preflight(endpoint: Any, ledger: Any) -> None:
    """Fail before paying: refuse to send calls whose answers could not be kept.

    Raises :class:`~bfnb.errors.LedgerError` when the ledger cannot be written (every answer would
    be paid and lost).  A missing key or an unknown provider already failed when the endpoint was
    resolved (:func:`bfnb.calls.resolve_endpoint`).  A model name the provider does not know is not
    probed here (no extra request): its calls fail with the provider's 404, which is not billed.
    """
    from .errors import LedgerError

    if not getattr(ledger, "writable", True):
        raise LedgerError(f"the ledger {ledger.path} is read-only: nothing was sent (answers could not be kept)")


#: max tokens bfnb sets under a budget on a call that sets none (or the model's limit if lower)
BUDGET_OUTPUT_CAP = 4096


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
