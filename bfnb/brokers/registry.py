"""One broker per endpoint, model and key, shared by every graph of the process.

Rate limits belong to an API key at an endpoint, not to a graph: two graphs calling the same model
must share one limiter and one worker pool, or together they overshoot the limit they each
respect.  So :func:`get_broker` keys brokers by (kind, provider, base URL, a hash of the API key,
model, batch, and a batch broker's state file) and hands out the same object each time; the UI panel lists them with
:func:`all_brokers`.  The built-in local provider (and offline mode) gets a
:class:`~bfnb.brokers.function.FunctionBroker` over the local model: no HTTP at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

from .broker import Broker
from .concurrency import adaptive_for
from .config import RateLimits, Retry
from .providers import ResolvedModel

__all__ = ["DEFAULT_PROVIDER_LIMITS", "all_brokers", "get_broker"]

# Limits per provider when the user gives none; the concurrency then adapts (brokers/concurrency.py)
# and each limiter learns real limits from x-ratelimit-* headers.
DEFAULT_PROVIDER_LIMITS: dict[str, RateLimits] = {
    "openai": RateLimits(concurrency=64),
    "local": RateLimits(concurrency=8),
    "vllm": RateLimits(concurrency=128),
    "ollama": RateLimits(concurrency=4),
    "lmstudio": RateLimits(concurrency=4),
}
_FALLBACK_LIMITS = RateLimits(concurrency=32)

_lock = threading.Lock()
_brokers: dict[tuple[str, str, str, str, str, bool, str], Broker] = {}


def get_broker(
    kind: str,
    model: str | ResolvedModel,
    *,
    batch: bool = False,
    limits: RateLimits | None = None,
    retry: Retry | None = None,
    state_path: str | os.PathLike[str] | None = None,
    mock: bool = False,
) -> Broker:
    """The shared broker for ``kind`` ("chat" | "embedding") calls to ``model`` (``model@provider``
    or a :class:`~bfnb.brokers.providers.ResolvedModel` the caller resolved once).

    ``limits`` and ``retry``, when given, replace those of an existing broker.  ``batch=True``
    gives the Batch API broker, remembering its batches in ``state_path`` (default:
    ``./data/batch_state/<kind>-<model>@<provider>.jsonl``).  ``mock=True`` gives the local model
    under the model's name with provider ``"mock"`` in its records (never a request).  Raises
    :class:`~bfnb.errors.MissingAPIKeyError` at once when the provider's key is unset.
    """
    from .providers import resolve

    if kind not in ("chat", "embedding"):
        raise ValueError(f"broker kind must be 'chat' or 'embedding', got {kind!r}")
    resolved = resolve(model) if isinstance(model, str) else model
    provider = resolved.provider
    secret = resolved.api_key or ""
    key_hash = hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else ""
    local = provider.in_process or mock
    batch = batch and not local  # the built-in model answers at once; there is no batch to wait for
    path = (state_path or _default_state_path(kind, resolved.model, provider.name)) if batch else ""
    # a batch broker's memory of its batches is its state file: another file, another broker
    name = "mock" if mock else provider.name
    ident = (kind, name, provider.base_url or "", key_hash, resolved.model, batch, os.fspath(path))
    with _lock:
        broker = _brokers.get(ident)
        if broker is not None:
            if limits is not None or retry is not None:
                broker.configure(limits=limits, retry=retry)
            return broker
        use = limits or DEFAULT_PROVIDER_LIMITS.get(provider.name, _FALLBACK_LIMITS)
        if local:
            from .function import local_chat_broker, local_embedding_broker

            make = local_chat_broker if kind == "chat" else local_embedding_broker
            broker = make(model=resolved.model, limits=use, provider=name)
            if retry is not None:
                broker.configure(retry=retry)
        elif batch:
            from .batch_api import BatchAPIBroker

            broker = BatchAPIBroker(resolved, state_path=path, kind=kind, limits=use, retry=retry)
        elif kind == "chat":
            from .chat_broker import ChatBroker

            broker = ChatBroker(resolved, use, retry)
        else:
            from .embedding import EmbeddingBroker

            broker = EmbeddingBroker(resolved, use, retry)
        if limits is None and not local and not batch:  # no limits from the user: adapt to the provider
            broker.adapt(adaptive_for(provider.name))
        _brokers[ident] = broker
        return broker


def all_brokers() -> list[Broker]:
    """Every broker made in this process, oldest first."""
    with _lock:
        return list(_brokers.values())


def _clear() -> None:
    """Forget every broker (tests)."""
    with _lock:
        _brokers.clear()


def _default_state_path(kind: str, model: str, provider: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "_", f"{kind}-{model}@{provider}")
    return Path("data") / "batch_state" / f"{safe}.jsonl"
