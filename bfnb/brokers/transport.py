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
"""

from __future__ import annotations

import asyncio
import atexit
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from .retry import TransientError, error_for_exception, error_for_status, redact

__all__ = ["aclose", "auth_headers", "get_json", "get_session", "post_checked", "post_json"]

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = weakref.WeakKeyDictionary()
_timeouts: dict[float, aiohttp.ClientTimeout] = {}
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
        return session
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


def _timeout(seconds: float | None) -> aiohttp.ClientTimeout:
    key = float(seconds) if seconds else 0.0
    t = _timeouts.get(key)
    if t is None:
        t = _timeouts[key] = aiohttp.ClientTimeout(total=key or None)
    return t


async def post_json(
    url: str,
    body: dict[str, Any],
    headers: Mapping[str, str],
    *,
    timeout_s: float | None = 120.0,
) -> tuple[int, Mapping[str, str], Any, str]:
    """POST ``body`` as JSON; returns ``(status, headers, parsed JSON or None, raw text)``.

    ``raw text`` is only decoded when the body is not JSON or the status is an error (large
    embedding answers are not decoded twice); otherwise it is ``""``.  Transport exceptions
    (timeouts, refused or dropped connections) propagate as aiohttp/asyncio raise them.
    """
    session = get_session()
    async with session.post(url, data=orjson.dumps(body), headers=headers, timeout=_timeout(timeout_s)) as resp:
        raw = await resp.read()
        status = resp.status
        resp_headers = resp.headers
    return status, resp_headers, *_decode(status, raw)


async def get_json(
    url: str, headers: Mapping[str, str], *, timeout_s: float | None = 120.0
) -> tuple[int, Mapping[str, str], Any, str]:
    """GET ``url``; same return shape as :func:`post_json`."""
    session = get_session()
    async with session.get(url, headers=headers, timeout=_timeout(timeout_s)) as resp:
        raw = await resp.read()
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
    timeout_s: float | None = 120.0,
    secret: str | None = None,
    on_headers: Callable[[Mapping[str, str]], None] | None = None,
) -> tuple[dict[str, Any], Mapping[str, str]]:
    """POST and return ``(JSON object, headers)`` of a 2xx answer, or raise a retry error.

    Raises :class:`~bfnb.brokers.retry.TransientError` (429, 5xx, timeouts, dropped connections,
    a 2xx whose body is not a JSON object) or :class:`~bfnb.brokers.retry.FatalError` (other 4xx).
    ``on_headers`` sees the headers of every answer, errors included (the limiter learns from them).
    """
    try:
        status, resp_headers, data, text = await post_json(url, body, headers, timeout_s=timeout_s)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise error_for_exception(exc, secret=secret) from None
    if on_headers is not None:
        on_headers(resp_headers)
    if status >= 300:
        raise error_for_status(status, resp_headers, data, text, secret=secret)
    if not isinstance(data, dict):
        raise TransientError(redact(f"HTTP {status} with a malformed answer: {text[:200]!r}", secret), status=status)
    return data, resp_headers
