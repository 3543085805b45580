"""Embeddings, one text per job, many texts per HTTP request.

Callers key and cache embeddings per text (editing one text re-embeds one text), but a provider
answers up to 2048 inputs per request, so this broker packs: a worker that takes a job also takes
the queued jobs whose other parameters (model, ``dimensions``, ``encoding_format``) match, up to
``max_inputs`` texts and ``max_request_tokens`` estimated tokens, and sends them as one request.
The answer is split back so that each text gets a record shaped like a one-input answer, with the
request's usage apportioned by text length.  A failed request is retried as a whole.
"""

from __future__ import annotations

from typing import Any

from .broker import Job
from .chat_broker import HTTPBroker
from .config import RateLimits, Retry
from .limiter import Limiter
from .pack_queue import PackQueue
from .retry import FatalError
from .transport import post_checked

__all__ = ["EmbeddingBroker", "apportion"]

_MAX_SKIPPED = 64  # queued jobs with other parameters looked past before sending what is packed


class EmbeddingBroker(HTTPBroker):
    """Broker for ``embeddings`` of one model at one provider.

    Parameters
    ----------
    resolved
        A :class:`~bfnb.brokers.providers.ResolvedModel`.
    max_inputs
        Most texts per request (OpenAI: 2048).
    max_request_tokens
        Most estimated tokens per request (OpenAI: 300,000).
    """

    packs = True
    kind = "embedding"
    path = "embeddings"

    def __init__(
        self,
        resolved: Any,
        limits: RateLimits | None = None,
        retry: Retry | None = None,
        *,
        max_inputs: int = 2048,
        max_request_tokens: int = 300_000,
        limiter: Limiter | None = None,
        name: str | None = None,
        prices: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(resolved, limits, retry, limiter=limiter, name=name, prices=prices)
        self.max_inputs = max(1, int(max_inputs))
        self.max_request_tokens = max(1, int(max_request_tokens))

    def take_more(self, first: Job, queue: PackQueue) -> list[Job]:
        if not isinstance(first.request.get("input"), str):
            return [first]  # already a list of texts: sent as its caller built it
        sig = _params(first.request)
        group, tokens, skipped = [first], first.est_input_tokens, []
        while len(group) < self.max_inputs:
            job = queue.pop()
            if job is None:
                break
            req = job.request
            if not isinstance(req.get("input"), str) or _params(req) != sig:
                skipped.append(job)
                if len(skipped) >= _MAX_SKIPPED:
                    break
                continue
            if tokens + job.est_input_tokens > self.max_request_tokens:
                skipped.append(job)
                break
            tokens += job.est_input_tokens
            group.append(job)
        for job in skipped:
            queue.put_back(job)
        return group

    async def _send_many(self, jobs: list[Job]) -> list[tuple[dict[str, Any], int, int]]:
        first = jobs[0].request
        if len(jobs) == 1 and not isinstance(first.get("input"), str):
            body = first if "model" in first else {**first, "model": self.model}
            data = await self._post(body)
            usage = data.get("usage") or {}
            return [(data, int(usage.get("prompt_tokens") or jobs[0].est_input_tokens), 0)]
        texts = [j.request["input"] for j in jobs]
        body = {k: v for k, v in first.items() if k != "input"}
        body.setdefault("model", self.model)
        body["input"] = texts
        data = await self._post(body)
        items = data.get("data")
        if not isinstance(items, list) or len(items) != len(texts):
            got = len(items) if isinstance(items, list) else "no"
            raise FatalError(f"embedding answer has {got} vectors for {len(texts)} inputs")
        items = sorted(items, key=lambda d: d.get("index", 0))
        usage = data.get("usage") or {}
        total = usage.get("prompt_tokens")
        shares = [j.est_input_tokens for j in jobs] if total is None else apportion(int(total), [len(t) for t in texts])
        model = data.get("model", body["model"])
        out = []
        for item, share in zip(items, shares, strict=False):  # a short answer leaves jobs unanswered
            one = {"object": "embedding", "index": 0, "embedding": item.get("embedding")}
            response = {"object": "list", "data": [one], "model": model,
                        "usage": {"prompt_tokens": share, "total_tokens": share}}  # fmt: skip
            out.append((response, share, 0))
        return out

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data, _ = await post_checked(
            self._url, body, self._headers, retry=self.retry, secret=self._secret,
            on_headers=self.limiter.observe,
        )  # fmt: skip
        return data


def _params(request: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, request[k]) for k in sorted(request) if k != "input"]


def apportion(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` that sum to ``total``.

    >>> apportion(10, [1, 1, 2])
    [3, 2, 5]
    """
    n = len(weights)
    wsum = sum(weights)
    if n == 0:
        return []
    if wsum <= 0:
        weights, wsum = [1] * n, n
    exact = [total * w / wsum for w in weights]
    shares = [int(x) for x in exact]
    rest = total - sum(shares)
    order = sorted(range(n), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in order[:rest]:
        shares[i] += 1
    return shares
