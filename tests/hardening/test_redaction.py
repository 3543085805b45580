"""One redaction function for everything stored or shown: known keys in every form, key-shaped tokens."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from bfnb.redaction import redact, register_secret

KEY = "sk-proj-Redact/+=0123456789abcdefXYZ"


@pytest.mark.parametrize(
    "form",
    [
        KEY,
        KEY.upper(),
        KEY.lower(),
        KEY.swapcase(),
        quote(KEY, safe=""),
        quote_plus(KEY),
        json.dumps(KEY),
        json.dumps(KEY).replace("/", "\\/"),
        base64.b64encode(KEY.encode()).decode(),
        base64.urlsafe_b64encode(KEY.encode()).decode(),
        base64.b64encode(b"user:" + KEY.encode()).decode(),
        base64.b64encode(b"ab:" + KEY.encode() + b"tail").decode(),
    ],
)
def test_a_registered_key_is_redacted_in_every_form(form):
    register_secret(KEY)
    out = redact(f"provider said: {form} (end)")
    assert out.startswith("provider said: ") and out.endswith(" (end)")
    body = out[len("provider said: ") : -len(" (end)")]
    assert len(body) <= 16 and "***" in body  # what survives is the encoded text around the key (48 chars)
    for piece in (KEY[3:], KEY[8:20], base64.b64encode(KEY.encode()).decode()[4:20]):
        assert piece.lower() not in out.lower()


@pytest.mark.parametrize(
    ("token", "kept"),
    [
        ("sk-abcdefghijklmnop1234", "sk-***"),
        ("sk-proj-abcdefghijklmnop1234_-XYZ", "sk-proj-***"),
        ("gsk_ABCDEFGHIJKLMNOP1234", "gsk_***"),
        ("hf_ABCDEFGHIJKLmnop", "hf_***"),
        ("SK-ABCDEFGHIJKLMNOP1234", "SK-***"),
    ],
)
def test_key_shaped_tokens_are_redacted_even_when_unknown(token, kept):
    assert redact(f"bad key {token}.") == f"bad key {kept}."


def test_ordinary_text_is_left_alone():
    text = "invalid value for key: temperature; task-manager skipped 3 rows; hf_ is a prefix"
    assert redact(text) == text


def test_bearer_and_assigned_secrets_are_redacted():
    out = redact('Authorization: Bearer abc.def-123 api_key=hunter2xyz {"x-api-key": "s3cr3t-value"}')
    for secret in ("abc.def-123", "hunter2xyz", "s3cr3t-value"):
        assert secret not in out
