"""What is checked and bounded before a call is paid (used by the call client, :mod:`bfnb.calls`).

* :func:`preflight`: fail before the first request when the answers could not be kept (a read-only
  ledger) or the endpoint has no such model, instead of after paying for them.
* :func:`output_bound`: the output tokens a call may use (its max tokens × ``n``); under a budget a
  call that sets none is sent with :data:`BUDGET_OUTPUT_CAP` (or the model's lower limit), so the
  reservation made before sending is a real bound.
* :func:`worst_cost`: the most a set of calls can cost (a dry-run estimate, the pending line).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["BUDGET_OUTPUT_CAP", "output_bound", "preflight", "worst_cost"]

_models_checked: dict[tuple[str, str], bool] = {}


def preflight(endpoint: Any, ledger: Any) -> None:
    """Fail before paying: an answer we could not keep, or a model the endpoint does not have.

    Raises :class:`~bfnb.errors.LedgerError` when the ledger cannot be written (every answer would
    be paid and lost) and :class:`~bfnb.errors.ProviderError` when the endpoint says it has no such
    model (``GET /models/{model}`` answers 404; free, asked once per process and endpoint).
    """
    from .errors import LedgerError, ProviderError

    if not getattr(ledger, "writable", True):
        raise LedgerError(f"the ledger {ledger.path} is read-only: nothing was sent (answers could not be kept)")
    resolved = endpoint.resolved
    if not endpoint.paid or resolved is None or not endpoint.base_url:
        return
    ident = (endpoint.base_url, endpoint.model)
    if ident not in _models_checked:
        _models_checked[ident] = _model_exists(endpoint.base_url, endpoint.model, resolved.api_key)
    if not _models_checked[ident]:
        raise ProviderError(
            f"{endpoint.base_url} has no model {endpoint.model!r} (GET /models/{endpoint.model} answered 404): "
            "nothing was sent; check the model name"
        )


def _model_exists(base_url: str, model: str, api_key: str | None) -> bool:
    """False only when the endpoint answers 404 for the model; any other outcome cannot tell."""
    import urllib.error
    import urllib.parse
    import urllib.request

    req = urllib.request.Request(f"{base_url}/models/{urllib.parse.quote(model, safe='')}")
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(req, timeout=10):
            return True
    except urllib.error.HTTPError as e:
        if e.code != 404:
            return True
    except (OSError, ValueError):  # down, a timeout, a proxy: the calls themselves will say
        return True
    # 404: no such model, or no such route (some servers only list their models): ask the list
    req = urllib.request.Request(f"{base_url}/models", headers=req.headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            listed = {m.get("id") for m in json.loads(r.read()).get("data", []) if isinstance(m, dict)}
    except (OSError, ValueError, AttributeError):
        return True
    return not listed or model in listed


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


