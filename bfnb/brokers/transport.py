"""A lean JSON-over-HTTP transport: aiohttp + orjson, one session per event loop.

Measured here, the client's own CPU and not the network caps how fast a process can call an API:
aiohttp + orjson costs ~0.3 ms per call, the official ``openai`` client 2–3 ms (it builds pydantic
objects), and httpx degrades as concurrency grows.  So brokers post plain dicts with this module and
read plain dicts back; nothing on the hot path builds an object per call beyond the parsed JSON.

One ``ClientSession`` per event loop (made lazily inside that loop, since aiohttp binds a session
to the loop that created it) keeps connections alive between runs and brokers.  The connector has
no connection cap of its own: each broker bounds its own concurrency with its worker pool.
:func:`post_json` returns what came back; :func:`post_checked` also turns failures into the
:mod:`bfnb.brokers.retry` errors, the one place where HTTP statuses and transport exceptions are
translated.  The API key goes only into the ``Authorization`` header; error texts are scrubbed of it.

Hostile or broken servers cost a bounded time and say what they did (see README, "Limits and
failures"): every attempt has a connect and a read timeout and ends by the call's deadline
(:class:`~bfnb.brokers.config.Timeouts`, the deadline marked by :func:`~bfnb.brokers.retry.deadline_scope`);
a body is read up to ``Retry.max_response_bytes``; a redirect is never followed (the
``Authorization`` header would go along to wherever it points) but reported with its target; a 2xx
HTML page (a proxy's login page) is reported as such.  Each error names the URL and the seconds.
"""

from __future__ import annotations

import asyncio
import atexit
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from .config import DEFAULT_RETRY, Retry
from .retry import (
    FatalError,
    TransientError,
    error_for_exception,
    error_for_status,
    html_summary,
    looks_like_html,
    redact,
    time_left,
)

__all__ = ["aclose", "auth_headers", "get_json", "get_session", "post_checked", "post_json"]

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = weakref.WeakKeyDictionary()
_JSON = "application/json"
_USER_AGENT = "bfnb"
_last: tuple[Any, Any] = (None, None)  # (loop, session) of the latest call


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Request headers for a bearer key (none for keyless local servers)."""
    headers = {"Content-Type": _JSON, "Accept": _JSON, "User-Agent": _USER_AGENT}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def get_session() -> aiohttp.ClientSession:
    """The running loop's shared session, created on first use."""
    global _last
    loop = asyncio.get_running_loop()
    last_loop, session = _last
    if last_loop is loop and not session.closed:  # the hot path: no weakref lookup
        return session  # type: ignore[no-any-return]
    session = _sessions.get(loop)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
        session = aiohttp.ClientSession(connector=connector)
        _sessions[loop] = session
    _last = (loop, session)
    return session


async def aclose() -> None:
    """Close the running loop's session (call before closing a loop made by ``asyncio.run``)."""
    global _last
    session = _sessions.pop(asyncio.get_running_loop(), None)
    _last = (None, None)
    if session is not None and not session.closed:
        await session.close()


@atexit.register
def _close_at_exit() -> None:
    """Close sessions of loops still alive (bfnb's loop thread) so no "Unclosed" warning is printed."""
    for loop, session in list(_sessions.items()):
        if session.closed or loop.is_closed():
            continue
        try:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(session.close(), loop).result(timeout=2)
            else:
                loop.run_until_complete(session.close())
        except Exception:  # shutting down: never fail the exit
            pass


class ResponseTooLarge(Exception):
    """A body longer than the cap (``Retry.max_response_bytes``)."""

    def __init__(self, limit: int, declared: int | None) -> None:
        super().__init__(limit, declared)
        self.limit, self.declared = limit, declared


class _Timeout:
    """The timeouts of one attempt: connect, read, and what is left of the call's deadline."""

    __slots__ = ("client", "connect", "deadline", "read", "total", "why_total")

    def __init__(self, retry: Retry, timeout_s: float | None) -> None:
        t = retry.timeouts
        self.connect, self.read, self.deadline = t.connect, t.read, t.call_deadline
        cap = retry.timeout_s if timeout_s is None else timeout_s
        left = time_left()
        self.why_total = "timeout_s"
        if left is not None and (cap is None or left < cap):
            cap, self.why_total = max(left, 0.001), "call_deadline"
        self.total = cap
        self.client = aiohttp.ClientTimeout(total=cap, sock_connect=t.connect, sock_read=t.read)


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = resp.content_length
    if declared is not None and declared > limit:
        raise ResponseTooLarge(limit, declared)
    if declared is not None:
        return await resp.read()
    parts, size = [], 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(limit, None)
        parts.append(chunk)
    return b"".join(parts)


async def post_json(
    url: str,
    body: dict[str, Any],
    headers: Mapping[str, str],
    *,
    timeout_s: float | None = None,
    retry: Retry | None = None,
    _timeout: _Timeout | None = None,
) -> tuple[int, Mapping[str, str], Any, str]:
    """POST ``body`` as JSON; returns ``(status, headers, parsed JSON or None, raw text)``.

    ``raw text`` is only decoded when the body is not JSON or the status is an error (large
    embedding answers are not decoded twice); otherwise it is ``""``.  Redirects are returned, not
    followed.  Transport exceptions (timeouts, refused or dropped connections) propagate as
    aiohttp/asyncio raise them; a body over ``retry.max_response_bytes`` raises ResponseTooLarge.
    """
    retry = retry or DEFAULT_RETRY
    timeout = _timeout or _Timeout(retry, timeout_s)
    session = get_session()
    async with session.post(url, data=orjson.dumps(body), headers=headers, timeout=timeout.client,
                            allow_redirects=False) as resp:  # fmt: skip
        raw = await _read_capped(resp, retry.max_response_bytes)
        status = resp.status
        resp_headers = resp.headers
    return status, resp_headers, *_decode(status, raw)


async def get_json(
    url: str, headers: Mapping[str, str], *, timeout_s: float | None = None, retry: Retry | None = None
) -> tuple[int, Mapping[str, str], Any, str]:
    """GET ``url``; same return shape and limits as :func:`post_json`."""
    retry = retry or DEFAULT_RETRY
    session = get_session()
    timeout = _Timeout(retry, timeout_s)
    async with session.get(url, headers=headers, timeout=timeout.client, allow_redirects=False) as resp:
        raw = await _read_capped(resp, retry.max_response_bytes)
        return resp.status, resp.headers, *_decode(resp.status, raw)


def _decode(status: int, raw: bytes) -> tuple[Any, str]:
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None, raw.decode("utf-8", "replace")
    if status >= 400 or data is None:
        return data, raw.decode("utf-8", "replace")
    return data, ""


async def post_checked(
    url: str,
    body: dict[str, Any],
    headers: Mapping[str, str],
    *,
    timeout_s: float | None = None,
    retry: Retry | None = None,
    secret: str | None = None,
    on_headers: Callable[[Mapping[str, str]], None] | None = None,
) -> tuple[dict[str, Any], Mapping[str, str]]:
    """POST and return ``(JSON object, headers)`` of a 2xx answer, or raise a retry error.

    Raises :class:`~bfnb.brokers.retry.TransientError` (429, 5xx, timeouts, dropped connections,
    a 2xx whose body is not a JSON object) or :class:`~bfnb.brokers.retry.FatalError` (other 4xx,
    a redirect, a body over the size cap, a 2xx HTML page).  Messages name the URL (never the key)
    and, for timeouts, the seconds and the setting.  ``on_headers`` sees the headers of every
    answer, errors included (the limiter learns from them).
    """
    retry = retry or DEFAULT_RETRY
    timeout = _Timeout(retry, timeout_s)
    try:
        status, resp_headers, data, text = await post_json(url, body, headers, retry=retry, _timeout=timeout)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise _transport_error(exc, url, timeout, secret) from None
    if on_headers is not None:
        on_headers(resp_headers)
    if 300 <= status < 400:
        where = resp_headers.get("Location", "(no Location header)")
        raise FatalError(
            f"HTTP {status} from {url}: redirected to {where}. bfnb does not follow redirects (the API key "
            f"would go along); set the provider's base_url to the address that answers",
            status=status,
        )
    if status >= 300:
        raise error_for_status(status, resp_headers, data, text, secret=secret)
    if not isinstance(data, dict):
        if looks_like_html(text):
            raise FatalError(
                f"HTTP {status} from {url} is {html_summary(text)}, not a JSON answer "
                f"(a proxy or login page, or a base_url that is not an API?)",
                status=status,
            )
        raise TransientError(f"HTTP {status} from {url} with a malformed answer: {text[:200]!r}", status=status)
    return data, resp_headers


def _transport_error(exc: Exception, url: str, timeout: _Timeout, secret: str | None) -> TransientError | FatalError:
    """A transport exception as a retry error that names the URL and, for a timeout, the seconds."""
    url = redact(url, secret)
    if isinstance(exc, ResponseTooLarge):
        size = f" declares {exc.declared:,} bytes" if exc.declared is not None else " went on"
        return FatalError(
            f"the answer from {url}{size} past the cap of {exc.limit:,} bytes (bf.Retry(max_response_bytes=...))"
        )
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransientError(
            f"timeout: no connection to {url} within {timeout.connect:g} s (bf.Timeouts(connect=...))"
        )
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return TransientError(f"timeout: {url} sent nothing for {timeout.read:g} s (bf.Timeouts(read=...))")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        if timeout.why_total == "call_deadline":
            return TransientError(
                f"timeout: {url} had not finished answering when the call deadline of {timeout.deadline:g} s "
                f"passed (bf.Timeouts(call_deadline=...))"
            )
        return TransientError(
            f"timeout: {url} had not finished answering after {timeout.total:g} s (bf.Retry(timeout_s=...))"
        )
    err = error_for_exception(exc, secret=secret)
    return type(err)(f"{err} ({url})", status=getattr(err, "status", None))
