"""A broker from a plain function: bfnb's ``MockTransport``.

``FunctionBroker(handler)`` turns ``handler(request_body) -> response dict`` (sync or async) into a
full broker: de-duplication, concurrency, pacing, retries, budget, records and events all come from
:class:`~bfnb.brokers.broker.Broker`.  The built-in offline model runs through it, and tests fake a
provider with one: a handler raises :class:`~bfnb.brokers.retry.TransientError` to simulate a
flaky call; any other exception fails the job at once with its message.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from .broker import Broker, Job, usage_tokens
from .config import RateLimits, Retry
from .retry import FatalError, TransientError

__all__ = ["FunctionBroker", "local_chat_broker", "local_embedding_broker"]

# A sync handler never suspends, so give the loop a turn now and then (pause/cancel stay live).
_YIELD_EVERY = 32


class FunctionBroker(Broker):
    """Broker whose calls are answered by ``handler(request_body)``.

    Parameters
    ----------
    handler
        ``(request: dict) -> dict`` or an async function of the same shape; usage is read from the
        response's OpenAI-style ``usage`` field (0 tokens if absent).
    name, kind, provider, model
        How the broker and its records are labelled.
    """

    def __init__(
        self,
        handler: Callable[[dict[str, Any]], Any],
        *,
        name: str | None = None,
        kind: str = "chat",
        provider: str = "function",
        model: str | None = None,
        limits: RateLimits | None = None,
        retry: Retry | None = None,
        prices: tuple[float, float] | None = None,
    ) -> None:
        model = model or str(getattr(handler, "__name__", "function"))
        super().__init__(provider=provider, model=model, kind=kind, limits=limits, retry=retry,
                         name=name, prices=prices)  # fmt: skip
        self._handler = handler
        self._calls = 0

    def __bfnb_fingerprint__(self) -> str:
        """Its provider and model, and the handler's code and captured values."""
        from ..fingerprint import fingerprint

        return fingerprint((super().__bfnb_fingerprint__(), self._handler))

    async def _send(self, job: Job) -> tuple[dict[str, Any], int, int]:
        try:
            response = self._handler(job.request)
            if inspect.isawaitable(response):
                response = await response
            else:
                self._calls += 1
                if self._calls % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        except (TransientError, FatalError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise FatalError(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(response, dict):
            raise FatalError(f"handler returned {type(response).__name__}, expected a response dict")
        tin, tout = usage_tokens(response, job.est_input_tokens)
        return response, tin, tout


def local_chat_broker(
    *, model: str | None = None, limits: RateLimits | None = None, provider: str = "local"
) -> FunctionBroker:
    """The built-in offline chat model as a broker (provider ``local``; ``mock`` in a mock run)."""
    from ..local import model as local_model

    name = model or local_model.LOCAL_CHAT_MODEL
    return FunctionBroker(local_model.chat_completion, kind="chat", provider=provider, model=name,
                          name=f"chat {name}@{provider}", limits=limits or RateLimits(concurrency=8))  # fmt: skip


def local_embedding_broker(
    *, model: str | None = None, limits: RateLimits | None = None, provider: str = "local"
) -> FunctionBroker:
    """The built-in offline embedding model as a broker (provider ``local``; ``mock`` in a mock run)."""
    from ..local import model as local_model

    name = model or local_model.LOCAL_EMBED_MODEL
    return FunctionBroker(local_model.embedding, kind="embedding", provider=provider, model=name,
                          name=f"embedding {name}@{provider}", limits=limits or RateLimits(concurrency=8))  # fmt: skip
