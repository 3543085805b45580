"""retry_plan: the one place that decides between "wait this long" and "give up now, saying why"."""

from __future__ import annotations

import random

import pytest

import bfnb as bf
from bfnb.brokers.retry import FatalError, QuotaError, RateLimitError, TransientError, error_for_status, retry_plan

RETRY = bf.Retry(max_attempts=6, backoff_base_s=1.0, backoff_max_s=30.0, jitter=0.0)


def test_a_transient_error_waits_with_backoff():
    assert retry_plan(TransientError("HTTP 503"), 1, RETRY, 0.0, random.Random(1)) == 1.0
    assert retry_plan(TransientError("HTTP 503"), 3, RETRY, 5.0, random.Random(1)) == 4.0


def test_a_retry_after_within_max_wait_is_honoured_and_a_longer_one_gives_up():
    assert retry_plan(RateLimitError("HTTP 429", retry_after=45.0), 1, RETRY, 0.0) >= 45.0
    plan = retry_plan(RateLimitError("HTTP 429", retry_after=86400.0), 1, RETRY, 0.0)
    assert isinstance(plan, str) and "86400 s (Retry-After)" in plan and "bf.Retry(max_wait_s=60)" in plan
    patient = bf.Retry(
        max_wait_s=90000, timeouts=bf.Timeouts(call_deadline=100000)
    )  # both: the wait is inside the call
    assert retry_plan(RateLimitError("HTTP 429", retry_after=86400.0), 1, patient, 0.0) >= 86400
    short_deadline = retry_plan(RateLimitError("HTTP 429", retry_after=86400.0), 1, bf.Retry(max_wait_s=90000), 0.0)
    assert isinstance(short_deadline, str) and "call deadline of 150 s" in short_deadline


@pytest.mark.parametrize("header", [{"retry-after": "3600"}, {"retry-after-ms": "3600000"},
                                    {"retry-after": "Fri, 31 Dec 2099 23:59:59 GMT"}])  # fmt: skip
def test_every_spelling_of_a_long_retry_after_gives_up(header):
    err = error_for_status(429, header, {"error": {"message": "slow down"}})
    assert isinstance(err, RateLimitError) and isinstance(retry_plan(err, 1, RETRY, 0.0), str)


def test_the_call_deadline_ends_retries():
    retry = bf.Retry(backoff_base_s=10.0, jitter=0.0, timeouts=bf.Timeouts(call_deadline=30))
    assert retry_plan(TransientError("timeout"), 1, retry, 5.0) == 10.0
    plan = retry_plan(TransientError("timeout"), 2, retry, 15.0)
    assert isinstance(plan, str) and "call deadline of 30 s" in plan and "2 attempts" in plan


def test_fatal_quota_and_the_last_attempt_give_up_with_the_error_itself():
    quota = error_for_status(429, {}, {"error": {"code": "insufficient_quota", "message": "You exceeded your quota"}})
    assert isinstance(quota, QuotaError) and isinstance(quota, FatalError)
    assert retry_plan(quota, 1, RETRY, 0.0) == str(quota)
    assert "insufficient_quota" in str(quota) and "retrying cannot help" in str(quota)
    assert isinstance(error_for_status(402, {}, {"error": {"message": "Payment required"}}), QuotaError)
    assert retry_plan(TransientError("HTTP 500"), 6, RETRY, 0.0) == "HTTP 500"
