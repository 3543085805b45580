"""What is worth trying again, and when.

A broker's ``_send`` raises one of two error types: :class:`TransientError` (429, 5xx, timeouts,
dropped or reset connections: the same request may well succeed later) or :class:`FatalError`
(400, 401, 403, 404, 422: sending it again only costs time).  Both are ``ProviderError``\\ s of
bfnb's one exception tree; a 429 is also a ``RateLimited``.  The delay before the next attempt is
exponential with jitter, capped, and never shorter than a ``Retry-After`` the provider gave.
Messages are cut short and scrubbed of secrets (:func:`bfnb.redaction.redact`) when the error is
made, because they end up in records and widgets.

When to stop is decided in one function, :func:`retry_plan`: a fatal error (a spent quota
included), the last attempt, a ``Retry-After`` longer than ``Retry.max_wait_s``, or a next attempt
that would start after the call's deadline (``Timeouts.call_deadline``) ends the call at once with a
message that says which, and which setting changes it.  The deadline also bounds the attempt in
progress: :func:`deadline_scope` marks it for the transport, which cuts the attempt off when it passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import re
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from ..errors import ProviderError, RateLimited
from ..redaction import redact as _redact_secrets
from .config import Retry

__all__ = [
    "FatalError",
    "QuotaError",
    "RateLimitError",
    "TransientError",
    "backoff_delay",
    "deadline_scope",
    "error_for_exception",
    "error_for_status",
    "header_number",
    "html_summary",
    "is_retryable_status",
    "looks_like_html",
    "parse_duration",
    "parse_retry_after",
    "redact",
    "retry_plan",
    "time_left",
]

_MAX_MESSAGE = 500


class TransientError(ProviderError):
    """A call failed in a way that a later attempt may not (429, 5xx, timeout, dropped connection)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(redact(message, None))
        self.status = status
        self.retry_after = retry_after


class RateLimitError(TransientError, RateLimited):
    """The provider answered 429."""


class FatalError(ProviderError):
    """A call failed in a way that retrying cannot cure (bad request, bad key, unknown model)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(redact(message, None))
        self.status = status


class QuotaError(FatalError):
    """The account's quota or credit is used up (a 429 ``insufficient_quota``): retrying cannot help."""


_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active",
                          "quota_exceeded", "credit_balance_too_low"})  # fmt: skip


def is_retryable_status(status: int) -> bool:
    """True for statuses worth another attempt: 408, 409, 425, 429 and every 5xx."""
    return status in (408, 409, 425, 429) or status >= 500


def redact(text: str, secret: str | None) -> str:
    """``text`` cut to a readable length, without secrets (see :func:`bfnb.redaction.redact`)."""
    text = _redact_secrets(text, secret)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")


def looks_like_html(text: str) -> bool:
    """True for a body that is an HTML page (a proxy's login page, a gateway's error page)."""
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in head


def html_summary(text: str) -> str:
    """An HTML page said in one line: its title, else its first text."""
    m = _TITLE.search(text)
    words = m.group(1) if m else re.sub(r"(?s)<[^>]*>", " ", text)
    return "an HTML page: " + " ".join(words.split())[:120]


def _provider_message(body: Any, text: str) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    text = text.strip()
    return html_summary(text) if looks_like_html(text) else text


def _error_code(body: Any) -> str:
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("code") or err.get("type") or "")
    return ""


def error_for_status(
    status: int,
    headers: Mapping[str, str] | None,
    body: Any = None,
    text: str = "",
    *,
    secret: str | None = None,
) -> TransientError | FatalError:
    """The error for a non-2xx HTTP answer (``body`` the parsed JSON if any, ``text`` the raw body)."""
    detail = redact(_provider_message(body, text), secret)
    message = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    code = _error_code(body)
    if code in _QUOTA_CODES or status == 402:  # 402 Payment Required: a billing stop, never a busy server
        return QuotaError(
            f"HTTP {status} {code or 'quota'}: the account's quota or credit is used up; retrying cannot help "
            f"(add credit, raise the limit or use another key, then re-run): {detail}",
            status=status,
        )
    if status == 429:
        return RateLimitError(message, status=status, retry_after=parse_retry_after(headers))
    if is_retryable_status(status):
        return TransientError(message, status=status, retry_after=parse_retry_after(headers))
    return FatalError(message, status=status)


def error_for_exception(exc: BaseException, *, secret: str | None = None) -> TransientError | FatalError:
    """Translate a transport exception (aiohttp, OSError, timeout) into a retry error."""
    if isinstance(exc, (TransientError, FatalError)):
        return exc
    name = type(exc).__name__
    text = redact(str(exc), secret)
    message = f"{name}: {text}" if text else name
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return TransientError(f"timeout: {message}")
    if isinstance(exc, (ConnectionError, OSError, EOFError)):
        return TransientError(f"connection error: {message}")
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp is a dependency
        aiohttp = None  # type: ignore[assignment]
    if aiohttp is not None and isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
        return TransientError(f"connection error: {message}")
    if aiohttp is not None and isinstance(exc, aiohttp.ClientResponseError):
        return error_for_status(exc.status, exc.headers, None, exc.message, secret=secret)
    return FatalError(message)


# --- Retry-After and x-ratelimit-reset-* ----------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def header_number(value: str | None) -> float | None:
    """A header's number (``x-ratelimit-remaining-requests: 59``), or None when absent or not one."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse_duration(value: str | float | None) -> float | None:
    """Seconds in a duration such as ``"1.5s"``, ``"20ms"``, ``"1m3s"``, ``"6m0s"`` or ``"2"``.

    >>> parse_duration("1m3s"), parse_duration("20ms"), parse_duration("7")
    (63.0, 0.02, 7.0)
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return max(0.0, float(value))
    s = value.strip()
    if not s:
        return None
    try:
        return max(0.0, float(s))
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and pos > 0 else None


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra is None:
        return None
    secs = parse_duration(ra)
    if secs is not None:
        return secs
    try:
        when = parsedate_to_datetime(ra).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def backoff_delay(
    attempt: int,
    retry: Retry,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential (``base * 2**(attempt-1)``) capped at ``backoff_max_s``, with the top ``jitter``
    fraction drawn at random so that many failed calls do not come back at the same instant.  A
    provider's ``Retry-After`` is a floor: the delay is never shorter than it (plus a little jitter).
    """
    r = rng.random() if rng is not None else random.random()
    delay = min(retry.backoff_max_s, retry.backoff_base_s * (2.0 ** max(0, attempt - 1)))
    delay *= 1.0 - retry.jitter * r
    if retry_after is not None:
        delay = max(delay, retry_after + 0.05 * retry.jitter * r * max(retry_after, 0.2))
    return delay


# --- when to stop ---------------------------------------------------------------------------------

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("bfnb_call_deadline", default=None)


@contextlib.contextmanager
def deadline_scope(at: float | None) -> Iterator[None]:
    """Mark the attempt made inside as due by ``at`` (``time.time()`` seconds; None: no deadline)."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left() -> float | None:
    """Seconds until the deadline of the call being attempted (None outside a :func:`deadline_scope`)."""
    at = _deadline.get()
    return None if at is None else at - time.time()


def retry_plan(
    err: TransientError | FatalError,
    attempts: int,
    retry: Retry,
    elapsed_s: float,
    rng: random.Random | None = None,
) -> float | str:
    """Seconds to wait before the next attempt, or the message of a call given up now.

    ``attempts`` counts the attempts made so far, ``elapsed_s`` the seconds since the first began.
    """
    message = str(err)
    if isinstance(err, FatalError) or attempts >= retry.max_attempts:
        return message
    retry_after = getattr(err, "retry_after", None)
    if retry_after is not None and retry_after > retry.max_wait_s:
        return (
            f"{message}; the provider asks to wait {retry_after:.0f} s (Retry-After), longer than "
            f"bf.Retry(max_wait_s={retry.max_wait_s:g}): given up at once. Re-run later, or raise max_wait_s to wait"
        )
    delay = backoff_delay(attempts, retry, retry_after, rng)
    deadline = retry.timeouts.call_deadline
    if elapsed_s + delay >= deadline:
        return (
            f"{message}; given up after {attempts} attempt{'s' if attempts > 1 else ''} and {elapsed_s:.0f} s: "
            f"the next would start past the call deadline of {deadline:g} s (bf.Timeouts(call_deadline=...))"
        )
    return delay
