"""Error classification, Retry-After parsing and backoff of bfnb.brokers.retry."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from bfnb.brokers import Retry
from bfnb.brokers.retry import (
    FatalError,
    RateLimitError,
    TransientError,
    backoff_delay,
    error_for_exception,
    error_for_status,
    parse_duration,
    parse_retry_after,
    redact,
)
from bfnb.errors import BfnbError, ProviderError, RateLimited


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 408])
def test_retryable_statuses(status: int) -> None:
    err = error_for_status(status, {}, {"error": {"message": "busy"}})
    assert isinstance(err, TransientError)
    assert "busy" in str(err) and str(status) in str(err)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_fatal_statuses(status: int) -> None:
    err = error_for_status(status, {}, None, "nope")
    assert isinstance(err, FatalError) and not isinstance(err, TransientError)
    assert err.status == status


def test_429_is_rate_limited_and_part_of_the_tree() -> None:
    err = error_for_status(429, {"retry-after-ms": "250", "retry-after": "1"}, None, "")
    assert isinstance(err, RateLimitError) and isinstance(err, RateLimited)
    assert isinstance(err, ProviderError) and isinstance(err, BfnbError)
    assert err.retry_after == pytest.approx(0.25)  # the ms form is the more precise one


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        aiohttp.ServerDisconnectedError(),
        ConnectionResetError("reset by peer"),
        aiohttp.ClientPayloadError("truncated"),
    ],
)
def test_transport_failures_are_transient(exc: BaseException) -> None:
    assert isinstance(error_for_exception(exc), TransientError)


def test_unknown_exception_is_fatal() -> None:
    assert isinstance(error_for_exception(ValueError("bad")), FatalError)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1.5s", 1.5), ("20ms", 0.02), ("1m3s", 63.0), ("6m0s", 360.0), ("2", 2.0), ("0.5", 0.5), ("1h", 3600.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "s"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    assert parse_duration(text) is None


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None
    when = datetime.now(UTC) + timedelta(seconds=30)
    secs = parse_retry_after({"retry-after": format_datetime(when, usegmt=True)})
    assert secs is not None and 25 <= secs <= 31


def test_backoff_grows_is_capped_and_respects_retry_after() -> None:
    retry = Retry(backoff_base_s=1.0, backoff_max_s=8.0, jitter=0.5)
    rng = random.Random(0)
    delays = [backoff_delay(a, retry, rng=rng) for a in range(1, 10)]
    assert all(0.5 <= d <= 8.0 for d in delays)
    assert delays[0] <= 1.0 and delays[-1] >= 4.0  # grows, then is capped
    assert min(backoff_delay(1, retry, retry_after=20.0, rng=rng) for _ in range(50)) >= 20.0
    no_jitter = Retry(backoff_base_s=1.0, backoff_max_s=100.0, jitter=0.0)
    assert [backoff_delay(a, no_jitter) for a in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_redact_removes_the_key_and_truncates() -> None:
    key = "sk-abcdef0123456789"
    out = redact(f"Incorrect API key provided: {key}." + "x" * 2000, key)
    assert key not in out and "***" in out and len(out) < 600
    err = error_for_status(401, {}, {"error": {"message": f"bad key {key}"}}, secret=key)
    assert key not in str(err)
