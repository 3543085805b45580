"""``bf.broker_op``: make any expensive call (a function or an HTTP endpoint) a broker op.

    search = bf.broker_op(search_fn, version="1", price=0.002,
                          limits=bf.RateLimits(rpm=600, concurrency=8), retry=bf.Retry(max_attempts=4))
    g |= search("query", "hits")          # hits = search_fn(query), for every entry

``broker_op`` returns a :class:`Service`; calling it with field keys (MapField's conventions:
``"k"``, ``(ins, out)``, ``{"in": "out"}``) gives a :class:`CallService` op. Every op made from one
service shares its broker: one concurrency bound, one rate limit, one row in the live panel.

What the op inherits from the call client (:mod:`bfnb.calls`), as AskLLM does:

* **keyed by content**: a call's key is the service's name and ``version`` plus the values sent
  (for a URL, the JSON body). Identical requests from different entries are sent once; a re-run,
  a new kernel or another process reads answers from the project's ledger.
* **editing the function does not re-send.** The function's code is not part of the key (a
  refactor, a log line or a bug fix that does not change answers must not pay again). When the
  answers would change, bump ``version``: every call is then sent again, and reverting the
  version brings the old answers back for free.
* claims, rate limits, retries, the budget, the per-call price in ``g.cost()`` and the live panel
  are the broker's and the call client's, as for a model call. Failed entries keep their row with
  ``status="failed"`` and ``error``, and are sent again on the next run.
* in a ``mock=True`` run nothing is sent: ``mock=fn`` answers instead (an offline stand-in, keyed
  apart from real answers); without it the rows stay ``status="pending"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from .broker_op import BrokerOp
from .op import RunContext, io_keys

__all__ = ["CallService", "Service", "broker_op"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class Service:
    """A user's expensive call, ready to become broker ops: ``service(in_keys, out_key)``."""

    def __init__(
        self,
        target: Callable[..., Any] | str,
        *,
        version: str | int = "1",
        name: str | None = None,
        price: float | None = None,
        limits: Any = None,
        retry: Any = None,
        retry_on: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError),
        headers: Mapping[str, str] | None = None,
        mock: Callable[..., Any] | None = None,
    ) -> None:
        from ..brokers.service import ServiceBroker, UnansweredBroker, is_url

        self.url: str | None = target if isinstance(target, str) and is_url(target) else None
        if name is None:
            name = getattr(target, "__name__", None) if self.url is None else _url_name(str(target))
        if not isinstance(name, str) or not _NAME.match(name) or name == "<lambda>":
            raise ValueError(f"broker_op needs a name of letters, digits, '_', '.', '-' (name=...), got {name!r}")
        if not isinstance(version, str | int) or isinstance(version, bool) or str(version) == "":
            raise TypeError(f"version must be a non-empty str or an int, got {version!r}")
        self.target, self.name, self.version = target, name, str(version)
        self.broker = ServiceBroker(target, name=name, price=price, limits=limits, retry=retry,
                                    retry_on=retry_on, headers=headers)  # fmt: skip
        if mock is not None and not callable(mock):
            raise TypeError(f"mock is a function standing in for the service offline, got {mock!r}")
        self.mock_broker = (
            ServiceBroker(mock, name=f"{name} (mock)", price=0.0) if mock is not None else UnansweredBroker(name)
        )

    def endpoint(self) -> Any:
        """Who answers: the service's name and version (and URL), part of every key and fingerprint.

        In a ``mock=True`` run: the ``mock`` stand-in (or nobody), under an identity of its own.
        """
        from ..calls import MOCK, Endpoint

        model = f"{self.name}@{self.version}"
        if MOCK.get():
            return Endpoint("service", "service", "", model, broker=self.mock_broker, mock=True, paid=False)
        return Endpoint("service", "service", self.url or "", model, broker=self.broker)

    def __call__(self, *keys: Any) -> CallService:
        return CallService(self, *keys)

    def __bfnb_fingerprint__(self) -> str:
        from ..fingerprint import combine

        return combine("bfnb.Service", self.endpoint().identity)

    def __repr__(self) -> str:
        return f"<bfnb.Service {self.name}@{self.version}{' ' + self.url if self.url else ''}>"


def _url_name(url: str) -> str:
    host_path = url.split("://", 1)[1].split("?", 1)[0].strip("/")
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", host_path) or "service"


def broker_op(
    target: Callable[..., Any] | str,
    *,
    version: str | int = "1",
    name: str | None = None,
    price: float | None = None,
    limits: Any = None,
    retry: Any = None,
    retry_on: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError),
    headers: Mapping[str, str] | None = None,
    mock: Callable[..., Any] | None = None,
) -> Service:
    """A :class:`Service` from a sync or async function or an ``http(s)://`` endpoint.

    Parameters
    ----------
    target
        ``fn(*values) -> value`` (sync: run in worker threads; async: awaited), or a URL that gets
        each request's fields as a JSON object by POST and answers with JSON.
    version
        Part of every call's key: bump it when the answers would change (editing the function
        alone does not re-send).
    name
        How the panel, the ledger and ``g.cost()`` name it (default: the function's name, or the URL).
    price
        Dollars per call (counted in spend, ``g.cost()`` and budgets); None: unknown.
    limits, retry
        :class:`bfnb.RateLimits` (``rpm``, ``concurrency``) and :class:`bfnb.Retry`
        (``max_attempts``, backoff, ``timeout_s``).
    retry_on
        A function's exception types that are retried (default: timeouts and connection errors).
    headers
        HTTP headers for an endpoint (never stored in the ledger).
    mock
        ``fn(*values) -> value`` answering in ``mock=True`` runs instead of the service (free,
        keyed apart from real answers); without it those runs leave the rows pending.
    """
    return Service(target, version=version, name=name, price=price, limits=limits, retry=retry,
                   retry_on=retry_on, headers=headers, mock=mock)  # fmt: skip


class CallService(BrokerOp):
    """Call a :class:`Service` for every entry: ``out = service(*in values)``."""

    call_kind = "service"

    def __init__(self, service: Service, *keys: Any) -> None:
        if not isinstance(service, Service):
            raise TypeError(f"CallService needs a bfnb Service (bf.broker_op(...)), got {type(service).__name__}")
        self.service = service
        self.in_keys, out_keys = io_keys(*keys)
        if not self.in_keys or len(out_keys) != 1:
            raise TypeError(f"{service.name}: give the input field(s) and one output field, e.g. ('query', 'hits')")
        self.out_key = out_keys[0]

    def display_name(self) -> str:
        return f"CallService[{self.service.name}@{self.service.version}]"

    def endpoint(self, ctx: RunContext | None = None) -> Any:
        return self.service.endpoint()

    def requests(self, rows: pd.DataFrame, endpoint: Any) -> list[dict[str, Any]]:
        from ..batch import require_fields
        from ..formats.packing import pack

        require_fields(rows, self.in_keys, op=self)
        cols = [rows[k].tolist() for k in self.in_keys]
        if self.service.url is not None and not endpoint.mock:
            return [
                {"json": {k: pack(v) for k, v in zip(self.in_keys, vals, strict=True)}}
                for vals in zip(*cols, strict=True)
            ]
        return [{"args": [pack(v) for v in vals]} for vals in zip(*cols, strict=True)]

    def read(self, rows: pd.DataFrame, calls: Any) -> dict[str, list[Any]]:
        from ..formats.packing import unpack

        out = [unpack(r.response["value"]) if r is not None and r.status == "done" else None for r in calls.records]
        return {self.out_key: out}
