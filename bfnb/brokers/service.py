"""ServiceBroker: any expensive call as a broker (a search API, a reranker, a slow local function).

The seed's Broker was "a pluggable engine for expensive or async jobs". bfnb's chat, embedding,
Batch API and human brokers cover the model calls; this one covers the rest, so a user's own
call gets what a model call gets from :class:`~bfnb.brokers.broker.Broker` and the call client:
one call per distinct request, bounded concurrency and an RPM limit, retries with backoff, a price
per call counted in spend and budgets, records in the ledger, and the live panel.

A service is one of:

* a **sync function** ``fn(*values) -> value``: run in a worker thread, so ``limits.concurrency``
  calls overlap (a sync function on the event loop would stall every other broker);
* an **async function** ``async fn(*values) -> value``: awaited on the broker's loop;
* an **HTTP endpoint** (a ``http://`` or ``https://`` URL): each request's fields are POSTed as a
  JSON object and the JSON answer is the value; 429, 5xx, timeouts and dropped connections are
  retried (``Retry-After`` honoured), other 4xx fail the entry with the server's message.

Arguments and values travel through :func:`bfnb.pack` (arrays, bytes and images included), so
the ledger holds exactly what was asked and answered. A function's :class:`TimeoutError` or
:class:`ConnectionError` (or any exception in ``retry_on``) is retried; any other exception fails
the entry with its message, kept in the batch and retried on a later run.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from .broker import Broker
from .config import RateLimits, Retry
from .jobs import Job
from .retry import FatalError, TransientError

__all__ = ["DEFAULT_SERVICE_LIMITS", "ServiceBroker", "UnansweredBroker", "is_url"]

#: a user's service: 8 calls at a time, no rate limit until the user sets one
DEFAULT_SERVICE_LIMITS = RateLimits(concurrency=8)


def is_url(target: Any) -> bool:
    return isinstance(target, str) and target.startswith(("http://", "https://"))


class ServiceBroker(Broker):
    """A broker whose calls are a user's function or HTTP endpoint, priced per call.

    Parameters
    ----------
    target
        A sync or async function, or an ``http(s)://`` URL.
    name
        How the panel and the ledger name the service.
    price
        Dollars per call, or None when the call is free or its price unknown (spend shows
        "unknown" then, never $0, unless ``price=0``).
    limits, retry
        As for any broker; ``limits.rpm`` paces calls, ``limits.concurrency`` bounds them.
    retry_on
        Exception types of a function that mean "try again" (default: timeouts and connection errors).
    headers
        Extra HTTP headers for an endpoint (an API key, say); never stored in the ledger.
    """

    def __init__(
        self,
        target: Callable[..., Any] | str,
        *,
        name: str,
        price: float | None = None,
        limits: RateLimits | None = None,
        retry: Retry | None = None,
        retry_on: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not (is_url(target) or callable(target)):
            raise TypeError(f"a service is a function or an http(s):// URL, got {target!r}")
        if price is not None and (not isinstance(price, int | float) or price < 0):
            raise ValueError(f"price is dollars per call (a number >= 0) or None, got {price!r}")
        super().__init__(provider="service", model=name, kind="service", limits=limits or DEFAULT_SERVICE_LIMITS,
                         retry=retry, name=f"service {name}")  # fmt: skip
        self.target, self.price, self.retry_on = target, price, tuple(retry_on)
        self.headers = {"Content-Type": "application/json", **dict(headers or {})}

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """The price of one call, whatever its size."""
        return None if self.price is None else float(self.price)

    async def _send(self, job: Job) -> tuple[dict[str, Any], int, int]:
        from ..formats.packing import pack, unpack

        target = self.target
        if isinstance(target, str):  # an http(s) URL (checked by __init__)
            from .transport import post_checked

            data, _ = await post_checked(target, job.request["json"], self.headers,
                                         timeout_s=self.retry.timeout_s)  # fmt: skip
            return {"value": data}, 0, 0
        args = unpack(job.request["args"])
        try:
            if inspect.iscoroutinefunction(target):
                value = await asyncio.wait_for(target(*args), self.retry.timeout_s)
            else:
                value = await asyncio.to_thread(target, *args)
                if inspect.isawaitable(value):
                    value = await value
        except asyncio.CancelledError:
            raise
        except self.retry_on as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise FatalError(f"{type(exc).__name__}: {exc}") from exc
        try:
            return {"value": pack(value)}, 0, 0
        except TypeError as exc:
            raise FatalError(f"the service returned a value that cannot be stored: {exc}") from exc


class UnansweredBroker(Broker):
    """Stands in for a service in a ``mock=True`` run without a ``mock`` function: sends nothing.

    The call client hands it the jobs and does not wait (``waits`` is False); they stay pending.
    """

    waits = False

    def __init__(self, name: str) -> None:
        super().__init__(provider="service", model=name, kind="service", name=f"service {name} (mock)",
                         prices=(0.0, 0.0))  # fmt: skip

    def offer(self, jobs: list[Job], on_record: Any) -> None:
        """Nothing answers in a mock run: the jobs stay pending."""

    async def _send(self, job: Job) -> tuple[dict[str, Any], int, int]:
        raise FatalError("a mock run sends nothing to a service (give broker_op a mock= function)")
