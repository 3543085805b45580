"""Chat completions against any OpenAI-compatible endpoint, on the lean transport.

The request body a job carries is POSTed as is to ``{base_url}/chat/completions`` (the model is
filled in if the body lacks it).  The answer is kept as the provider's own dict, with every choice's
``finish_reason``; usage comes from its ``usage`` field.  HTTP statuses and transport exceptions
become :mod:`bfnb.brokers.retry` errors in one place, :func:`~bfnb.brokers.transport.post_checked`;
this module adds only what is specific to chat: an answer without ``choices`` (some gateways
answer 200 with an ``error`` body) is a transient failure.
"""

from __future__ import annotations

from typing import Any

from .broker import Broker, Job, usage_tokens
from .config import RateLimits, Retry
from .limiter import Limiter
from .retry import TransientError, redact
from .transport import auth_headers, post_checked

__all__ = ["ChatBroker", "HTTPBroker", "finish_reasons"]


class HTTPBroker(Broker):
    """A broker posting JSON to ``{base_url}/{path}`` of an OpenAI-compatible provider."""

    kind: str
    path: str

    def __init__(
        self,
        resolved: Any,
        limits: RateLimits | None = None,
        retry: Retry | None = None,
        *,
        limiter: Limiter | None = None,
        name: str | None = None,
        prices: tuple[float, float] | None = None,
    ) -> None:
        provider = resolved.provider
        if not provider.base_url:
            raise ValueError(f"provider {provider.name!r} has no base URL; use the local broker for it")
        super().__init__(provider=provider.name, model=resolved.model, kind=self.kind, limits=limits,
                         retry=retry, limiter=limiter, name=name, prices=prices)  # fmt: skip
        self.base_url = provider.base_url.rstrip("/")
        self._url = f"{self.base_url}/{self.path}"
        self._headers = {**auth_headers(resolved.api_key), **dict(getattr(provider, "extra_headers", {}) or {})}
        self._secret = resolved.api_key


class ChatBroker(HTTPBroker):
    """Broker for ``chat/completions`` of one model at one provider.

    Parameters
    ----------
    resolved
        A :class:`~bfnb.brokers.providers.ResolvedModel` (model, provider with ``base_url``, key).
    limits, retry
        :class:`RateLimits` and :class:`Retry` (defaults: ``DEFAULT_RATE_LIMITS``, ``DEFAULT_RETRY``).
    """

    kind = "chat"
    path = "chat/completions"

    async def _send(self, job: Job) -> tuple[dict[str, Any], int, int]:
        body = job.request
        if "model" not in body:
            body = {**body, "model": self.model}
        data, _ = await post_checked(
            self._url, body, self._headers, retry=self.retry, secret=self._secret,
            on_headers=self.limiter.observe,
        )  # fmt: skip
        if not isinstance(data.get("choices"), list) or not data["choices"]:
            err = data.get("error")
            detail = err.get("message", err) if isinstance(err, dict) else err or "no 'choices' (no answer)"
            raise TransientError(redact(f"malformed chat answer: {detail}", self._secret))
        tin, tout = usage_tokens(data, job.est_input_tokens)
        return data, tin, tout


def finish_reasons(response: dict[str, Any]) -> list[str | None]:
    """The ``finish_reason`` of each choice of a chat answer (``"length"``: cut at ``max_tokens``)."""
    return [c.get("finish_reason") for c in response.get("choices") or ()]
