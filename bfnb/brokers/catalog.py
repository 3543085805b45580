"""Which models an endpoint has, known before the first request, so a misspelt name costs nothing.

A model name the provider does not know used to surface as the provider's 404 after the calls were
queued.  Now the call client asks this module first (:func:`bfnb.before_paying.preflight`), from
one of two sources:

1. **bfnb's own catalog**, for the providers whose models it knows (:data:`CATALOG_PROVIDERS`):
   the price table (``pricing.json`` plus :func:`~bfnb.brokers.pricing.register_price`) and the
   output-limits table.  No request is made.  The catalog goes with the provider *name*, so it also
   applies when ``OPENAI_BASE_URL`` points the ``openai`` provider at a gateway or at bfnb's own
   server; there a name the catalog lacks is also looked up in that endpoint's own list (2.), so
   a vLLM behind ``OPENAI_BASE_URL`` serves its own model names.  Dated snapshots (``gpt-4o-mini-2024-07-18``), vendor prefixes (``openai/gpt-4o``) and
   fine-tunes (``ft:gpt-4o-mini-2024-07-18:org::id``) of a listed model are accepted.
2. **The endpoint's own list**, for every other HTTP endpoint (groq, together, a vLLM, a provider
   registered with ``register_provider``): ``GET {base_url}/models``, asked once per endpoint per
   process with a total deadline of :data:`LIST_DEADLINE_S`.  An endpoint that does not answer in
   time, answers an error, or lists no models is simply not checked.  The listing is not a model
   call: it is never paid, never written to the ledger and never retried.

The built-in local model answers under any name (``gpt-4o-mini@local`` is the offline stand-in),
so ``@local`` names are not checked.  In offline or mock mode a name is checked against the catalog
of the provider it names, never over the network.  A name either source lacks raises
:class:`~bfnb.errors.UnknownModelError` naming the close names (difflib) and the two ways to send
it anyway: ``bf.options.unlisted_models.add("name@provider")`` or ``register_price``.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import threading
from collections.abc import Callable, Collection, Mapping

from ..errors import UnknownModelError
from .pricing import OUTPUT_LIMITS, prices, variants
from .transport import auth_headers, get_json

__all__ = [
    "CATALOG_PROVIDERS",
    "LIST_DEADLINE_S",
    "catalog",
    "check_listed",
    "forget_lists",
    "list_models",
    "listed_once",
]

#: the most a model-list request may take, connect to last byte; after it the check is skipped
LIST_DEADLINE_S = 3.0

#: providers whose models bfnb knows, and the name prefixes of the price table's provider-less
#: entries that are theirs (an entry ``model@provider`` is always its provider's)
CATALOG_PROVIDERS: Mapping[str, tuple[str, ...]] = {
    "openai": ("gpt-", "chatgpt-", "o1", "o3", "o4", "text-embedding-"),
    "deepseek": ("deepseek-",),
    "lambda": (),
}


def catalog(provider: str) -> frozenset[str] | None:
    """The model names bfnb knows for ``provider`` (lower case), or None when it knows no list.

    A price registered for every model of the provider (``register_price("*", provider, ...)``)
    also means "no list".
    """
    provider = provider.lower()
    owned = CATALOG_PROVIDERS.get(provider)
    if owned is None:
        return None
    names: set[str] = set()
    for key in [*prices(), *OUTPUT_LIMITS]:
        model, _, at = key.partition("@")
        if at == provider:
            if model == "*":
                return None
            names.add(model)
        elif not at and owned and model.startswith(owned):
            names.add(model)
    return frozenset(names)


def check_listed(
    model: str, provider: str, listed: Collection[str], *, source: str, op: str, allowed: Collection[str] = ()
) -> None:
    """Raise :class:`~bfnb.errors.UnknownModelError` unless ``model`` (or a variant) is ``listed``.

    ``source`` says where the list came from (for the message); ``allowed`` holds the user's
    ``"model@provider"`` exceptions (``bf.options.unlisted_models``; ``"*@provider"`` allows all).
    """
    if not listed:
        return
    shown = {n.lower(): n for n in listed}  # compared in lower case, named as listed
    low = set(shown)
    name = model.strip().lower()
    base = name.split(":")[1] if name.startswith("ft:") and name.count(":") >= 2 else name  # a fine-tune
    if any(v in low for v in variants(base)):
        return
    allowed_low = {a.strip().lower() for a in allowed}
    if f"{name}@{provider}" in allowed_low or f"*@{provider}" in allowed_low:
        return
    close = difflib.get_close_matches(name, sorted(low), n=5, cutoff=0.6)
    near = f"close names: {', '.join(shown[c] for c in close)}" if close else f"none close among {len(low):,} listed"
    raise UnknownModelError(
        f"{op}: field 'model': {provider} has no model {model!r} ({source}); {near}. Nothing was sent. "
        f"If the name is right, allow it: bf.options.unlisted_models.add({f'{model}@{provider}'!r})"
        f" or register its price: bf.register_price({model!r}, {provider!r}, input_per_1m=..., "
        "output_per_1m=...)"
    )


async def list_models(
    base_url: str, api_key: str | None, extra_headers: Mapping[str, str] | None = None
) -> frozenset[str] | None:
    """The model ids ``GET {base_url}/models`` lists, or None when it cannot tell in time.

    None for any failure: no answer within :data:`LIST_DEADLINE_S`, an error status, a body that
    is not an OpenAI-style list, or an empty list.  Redirects are not followed (the key stays home).
    """
    headers = {**auth_headers(api_key), **dict(extra_headers or {})}
    try:
        status, _, data, _ = await asyncio.wait_for(
            get_json(f"{base_url.rstrip('/')}/models", headers, timeout_s=LIST_DEADLINE_S), LIST_DEADLINE_S
        )
    except Exception:  # down, silent, dripping, malformed: not checked
        return None
    if status != 200 or not isinstance(data, dict) or not isinstance(data.get("data"), list):
        return None
    ids = {m["id"] for m in data["data"] if isinstance(m, dict) and isinstance(m.get("id"), str)}
    return frozenset(ids) or None


_listed: dict[tuple[str, str], frozenset[str] | None] = {}
_listing = threading.Lock()


def listed_once(
    base_url: str, api_key: str | None, fetch: Callable[[], frozenset[str] | None]
) -> frozenset[str] | None:
    """The endpoint's model list, asked at most once per process (``fetch()`` asks it).

    Keyed by base URL and a hash of the key (a key sees its own account's models); the key itself
    is never stored.  Concurrent callers wait for the one request in flight.
    """
    ident = (base_url, hashlib.blake2b((api_key or "").encode(), digest_size=8).hexdigest())
    with _listing:
        if ident not in _listed:
            _listed[ident] = fetch()
        return _listed[ident]


def forget_lists() -> None:
    """Forget the model lists asked so far (``bfnb.testing.reset_state``: as a new process would)."""
    with _listing:
        _listed.clear()
