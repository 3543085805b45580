"""Hostile servers (bfnb.testing.hostile) against AskLLM: bounded time, a clear error, no retry storm, no leak.

Each test runs a one-entry pipeline against a server that misbehaves in one way, asserts what the
entry's error says (the URL, the seconds, the setting that changes it), how many requests the server
saw (nothing retried that retrying cannot cure), that nothing was recorded as done or paid, and that
the same pipeline completes once the server behaves.
"""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.brokers import get_broker
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, FromList
from bfnb.testing import hostile_server

from .conftest import KEY

FAST = dict(backoff_base_s=0.01, backoff_max_s=0.05)


def ask(server, retry: bf.Retry | None = None, words=("Icarus",)):
    bf.register_provider("hostile", server.url, "HOSTILE_KEY")
    if retry is not None:
        get_broker("chat", "m@hostile", retry=retry)
    with bf.ProjectFolder("hostile", 1, 0, 0):
        g = bf.Graph() | FromList([{"keyword": w} for w in words]) | AskLLM("Poem about {keyword}", model="m@hostile")
    return g.run()


def ledger_rows():
    return bf.ProjectFolder("hostile", 1, 0, 0).ledger.to_pandas()


def assert_failed_unpaid(out, *words):
    assert out["status"].tolist() == ["failed"] * len(out)
    err = out["error"].iloc[0]
    for w in words:
        assert w in err, (w, err)
    assert KEY not in err and KEY.lower() not in err.lower()
    rows = ledger_rows()
    assert set(rows["status"]) <= {"failed"} and not rows["cost_usd"].fillna(0).any()
    return err


def rerun_after_fix(server):
    server.behave("ok")
    memo.clear()
    out = ask(server)
    assert out["status"].tolist() == ["done"] and out["text"].iloc[0].startswith("ok: ")
    return out


def test_a_server_that_never_answers_fails_at_the_call_deadline_naming_url_and_seconds():
    retry = bf.Retry(timeouts=bf.Timeouts(connect=1, read=0.3, call_deadline=1.0), **FAST)
    with hostile_server("silent") as srv:
        out = ask(srv, retry)
        err = assert_failed_unpaid(out, f"{srv.url}/chat/completions", "call deadline of 1 s",
                                   "bf.Timeouts(call_deadline=...)")  # fmt: skip
        assert 2 <= srv.hits <= 4  # retried within the deadline (each attempt read-timed out at 0.3 s), then given up
        rerun_after_fix(srv)
    assert err.startswith("timeout:")


def test_one_silent_attempt_ends_at_the_read_timeout_naming_it():
    import asyncio

    from bfnb.brokers.retry import TransientError
    from bfnb.brokers.transport import aclose, auth_headers, post_checked

    retry = bf.Retry(timeouts=bf.Timeouts(connect=1, read=0.3, call_deadline=30))

    async def once(url):
        try:
            await post_checked(f"{url}/chat/completions", {"model": "m"}, auth_headers(KEY), retry=retry, secret=KEY)
        finally:
            await aclose()

    with hostile_server("silent") as srv, pytest.raises(TransientError) as e:
        asyncio.run(once(srv.url))
    assert str(e.value) == f"timeout: {srv.url}/chat/completions sent nothing for 0.3 s (bf.Timeouts(read=...))"


def test_a_dripping_body_is_cut_off_at_the_deadline():
    retry = bf.Retry(timeouts=bf.Timeouts(read=5, call_deadline=0.8), **FAST)
    with hostile_server("drip", drip_s=0.05) as srv:
        out = ask(srv, retry)
        assert_failed_unpaid(out, "had not finished answering when the call deadline of 0.8 s passed",
                            "bf.Timeouts(call_deadline=...)", srv.url)  # fmt: skip
        assert srv.hits == 1  # the deadline was spent on the one attempt: none after it
        rerun_after_fix(srv)


@pytest.mark.parametrize("behaviour", ["endless", "huge"])
def test_an_endless_or_huge_body_stops_at_the_size_cap_and_is_not_retried(behaviour):
    retry = bf.Retry(max_response_bytes=2**20, **FAST)
    with hostile_server(behaviour) as srv:
        out = ask(srv, retry)
        err = assert_failed_unpaid(out, "past the cap of 1,048,576 bytes", "bf.Retry(max_response_bytes=...)", srv.url)
        assert srv.hits == 1
        if behaviour == "huge":
            assert "declares 10,737,418,240 bytes" in err
        rerun_after_fix(srv)


def test_a_200_html_proxy_page_is_named_and_not_retried():
    with hostile_server("html") as srv:
        out = ask(srv, bf.Retry(**FAST))
        assert_failed_unpaid(out, "HTTP 200", "Corporate Proxy - Sign in required", "not a JSON answer", srv.url)
        assert srv.hits == 1
        rerun_after_fix(srv)


def test_a_redirect_to_another_host_is_not_followed_and_the_key_stays_home():
    with hostile_server("ok", host="127.0.0.2") as other, hostile_server("redirect", redirect_to=other.url) as srv:
        out = ask(srv, bf.Retry(**FAST))
        assert_failed_unpaid(out, "HTTP 307", f"redirected to {other.url}/chat/completions", "base_url")
        assert srv.hits == 1 and other.hits == 0  # nothing, so no Authorization header, reached the other host
        memo.clear()
        fixed = ask(other)  # the fix the message asks for: the base_url that answers
        assert fixed["status"].tolist() == ["done"] and other.hits == 1


def test_retry_after_an_hour_fails_at_once_naming_the_wait_and_the_setting():
    with hostile_server("retry_after", retry_after=3600) as srv:
        out = ask(srv)  # default Retry: max_wait_s=60
        assert_failed_unpaid(out, "3600 s (Retry-After)", "bf.Retry(max_wait_s=60)", "HTTP 429")
        assert srv.hits == 1
        rerun_after_fix(srv)  # the broker was not paused for the hour either


def test_a_spent_quota_fails_at_once_saying_why():
    with hostile_server("quota") as srv:
        out = ask(srv)
        assert_failed_unpaid(out, "insufficient_quota", "quota or credit is used up", "retrying cannot help")
        assert srv.hits == 1  # was 6 attempts
        rerun_after_fix(srv)


def test_an_error_echoing_the_key_in_odd_forms_leaks_it_nowhere():
    import base64
    import json
    from urllib.parse import quote

    with hostile_server("echo_key") as srv:
        out = ask(srv)
        assert srv.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"  # the server did get the key
        forms = [KEY, KEY.upper(), KEY.lower(), quote(KEY, safe=""), json.dumps(KEY),
                 base64.b64encode(KEY.encode()).decode().rstrip("="), KEY[8:]]  # fmt: skip
        shown = [
            out["error"].iloc[0],
            (bf.ProjectFolder("hostile", 1, 0, 0).ledger_dir / "calls.jsonl").read_text(),
            bf.BatchTable(out)._repr_mimebundle_()["text/html"],
            repr(out),
        ]
        for text in shown:
            for form in forms:
                assert form.lower() not in text.lower(), (form, text[:300])
        assert "Incorrect API key provided" in shown[0] and "***" in shown[0]
        rerun_after_fix(srv)


def test_a_server_that_is_down_fails_within_the_deadline_naming_the_url():
    from bfnb.testing.hostile import HostileServer

    srv = HostileServer("ok").start()
    url, port = srv.url, srv.port
    srv.stop()  # nothing listens on that port now: connections are refused
    retry = bf.Retry(timeouts=bf.Timeouts(connect=1, read=1, call_deadline=1.0), **FAST)
    out = ask(srv, retry)
    assert_failed_unpaid(out, "connection error", f"{url}/chat/completions")
    with HostileServer("ok", port=port) as again:  # the fix: the server is up
        memo.clear()
        assert ask(again)["status"].tolist() == ["done"] and again.hits == 1


@pytest.mark.parametrize("behaviour", ["quota", "html"])
def test_embeddings_get_the_same_treatment(behaviour):
    from bfnb.op import EmbedText

    with hostile_server(behaviour) as srv:
        bf.register_provider("hostile", srv.url, "HOSTILE_KEY")
        with bf.ProjectFolder("hostile", 1, 0, 0):
            g = bf.Graph() | FromList([{"text": "a"}, {"text": "b"}]) | EmbedText("text", model="e@hostile")
        out = g.run()
        assert set(out["status"]) == {"failed"} and srv.hits == 1  # one packed request, not retried
        assert ("quota or credit is used up" if behaviour == "quota" else "Corporate Proxy") in out["error"].iloc[0]
        srv.behave("ok")
        memo.clear()
        assert set(g.run()["status"]) == {"done"}


def test_a_200_without_any_choice_is_not_a_done_answer():
    with hostile_server("empty_choices") as srv:
        out = ask(srv, bf.Retry(max_attempts=2, **FAST))
        assert_failed_unpaid(out, "no 'choices' (no answer)")
        assert srv.hits == 2  # a gateway hiccup: retried, then failed
        rerun_after_fix(srv)


def test_garbage_usage_counts_keep_the_paid_answer():
    with hostile_server("odd_usage") as srv:
        out = ask(srv)
        assert out["status"].tolist() == ["done"] and out["text"].tolist() == ["fine"]  # was "ValueError: ..."
        assert srv.hits == 1
        memo.clear()
        assert ask(srv)["text"].tolist() == ["fine"] and srv.hits == 1  # kept in the ledger: not paid again
