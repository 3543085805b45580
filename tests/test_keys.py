"""Request keys: a pure function of the canonical request and of who answers, never of secrets."""

from __future__ import annotations

import subprocess
import sys

from bfnb.keys import canonical, request_key

EP = "openai|http://127.0.0.1:9/v1|gpt-4o-mini"
REQ = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.2}


def test_equal_content_in_another_dict_order_gives_the_same_key():
    shuffled = {"temperature": 0.2, "messages": [{"content": "Hi", "role": "user"}], "model": "gpt-4o-mini"}
    assert canonical(shuffled) == canonical(REQ)
    assert request_key(EP, shuffled) == request_key(EP, REQ)


def test_a_changed_message_parameter_model_or_endpoint_changes_the_key():
    base = request_key(EP, REQ)
    changed = [
        request_key(EP, {**REQ, "messages": [{"role": "user", "content": "Hi!"}]}),
        request_key(EP, {**REQ, "temperature": 0.3}),
        request_key(EP, {**REQ, "max_tokens": 10}),
        request_key(EP, {**REQ, "model": "gpt-4o"}),
        request_key("openai|http://127.0.0.1:9/v1|gpt-4o", REQ),  # another model answers
        request_key("openai|http://127.0.0.1:8/v1|gpt-4o-mini", REQ),  # another base URL
        request_key("other|http://127.0.0.1:9/v1|gpt-4o-mini", REQ),  # another provider
        request_key(EP, REQ, sample=1),
    ]
    assert base not in changed
    assert len(set(changed)) == len(changed)


def test_secrets_are_never_in_the_canonical_form_nor_change_the_key():
    secret = "sk-live-SECRET-123"
    with_secrets = {
        **REQ,
        "api_key": secret,
        "Authorization": f"Bearer {secret}",
        "headers": {"Authorization": f"Bearer {secret}"},
        "extra_headers": {"X-Key": secret},
    }
    body = canonical(with_secrets)
    assert b"SECRET" not in body and b"Bearer" not in body
    assert body == canonical(REQ)
    assert request_key(EP, with_secrets) == request_key(EP, REQ)


def test_the_key_is_stable_across_processes():
    code = f"from bfnb.keys import request_key;print(request_key({EP!r}, {REQ!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == request_key(EP, REQ)
