"""The offline half of bfnb: a deterministic local model and an OpenAI-compatible local server.

``bfnb.local.model`` answers chat and embedding requests in process (the ``@local`` provider and
offline mode); ``bfnb.local.httpserver.LocalServer`` serves the same answers over HTTP on 127.0.0.1
with configurable latency, rate limits and faults.  The server is imported lazily, so importing
the model does not import aiohttp's web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bfnb.local.model import LOCAL_CHAT_MODEL, LOCAL_EMBED_MODEL, chat_completion, embedding

if TYPE_CHECKING:
    from bfnb.local.httpserver import LocalServer

__all__ = ["LOCAL_CHAT_MODEL", "LOCAL_EMBED_MODEL", "LocalServer", "chat_completion", "embedding"]


def __getattr__(name: str) -> Any:
    if name == "LocalServer":
        from bfnb.local.httpserver import LocalServer

        return LocalServer
    raise AttributeError(f"module 'bfnb.local' has no attribute {name!r}")
