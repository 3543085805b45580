"""The one place where secrets are taken out of text before it is stored or shown.

A provider's error text may echo the API key it was sent, and not always verbatim: upper-cased,
URL-encoded in a query string, JSON-escaped, base64-encoded inside a ``Basic`` header, cut into a
longer token.  Every text that reaches a ledger record, an error message, a table, a widget or a log
goes through :func:`redact` first, which removes

- every key bfnb has used in this process (:func:`register_secret`; the provider resolver registers
  each key it reads), in each of those forms, compared case-insensitively, and
- anything shaped like a provider key (``sk-…``, ``sk-proj-…``, ``gsk_…``, ``hf_…``, bearer tokens,
  ``api_key=…``), known or not.

Redaction over-matches on purpose: hiding a harmless string costs nothing, showing a key costs a
revoked key.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "redact", "register_secret"]

MASK = "***"
_MIN_SECRET = 8  # shorter "keys" (dummy keys of local servers) would redact ordinary words

_TOKEN_SHAPES = re.compile(  # the kind of key (its prefix) is kept: "sk-proj-***" tells which key to check
    r"(?i)(?<![A-Za-z0-9])(sk-(?:proj-|ant-|or-)?|gsk_|hf_|xai-)[A-Za-z0-9_\-]{8,}|(?<![A-Za-z0-9])AIza[A-Za-z0-9_\-]{20,}"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-%]{4,}")
_ASSIGNED = re.compile(
    r"(?i)\b(api[_-]?key|apikey|authorization|x-api-key|access[_-]?token)(%22|\\?[\"']?\s*(?:[:=]|%3A|%3D)\s*\\?[\"']?)"
    r"(?!Bearer\b)(?!\*\*\*)[^\s'\",}&]{4,}"
)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` (an API key) so that :func:`redact` hides it in every form from now on."""
    global _pattern
    if not secret or len(secret) < _MIN_SECRET:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        _pattern = None


def _forms(secret: str) -> set[str]:
    """The ways a key turns up in text: verbatim, URL-, JSON- and base64-encoded."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms.add(json.dumps(secret)[1:-1].replace("/", "\\/"))
    raw = secret.encode()
    for shift in range(3):  # base64 of the key at each alignment inside a longer encoded text
        enc = base64.b64encode(b"\0" * shift + raw).decode()
        lead = (shift * 8 + 5) // 6  # characters that mix in the bytes before the key
        end = len(enc.rstrip("="))
        tail = ((shift + len(raw)) * 8) % 6  # a last character that mixes in the bytes after it
        core = enc[lead : end - (1 if tail else 0)]
        if len(core) >= _MIN_SECRET:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    return {f for f in forms if len(f) >= _MIN_SECRET}


def _known() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            forms = sorted({f for s in _secrets for f in _forms(s)}, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)
        return _pattern


def redact(text: object, *secrets: str | None) -> str:
    """``text`` with every known secret (and ``secrets``) and every key-shaped token replaced by ``***``.

    >>> register_secret("sk-test-0123456789abcdef")
    >>> redact("bad key SK-TEST-0123456789ABCDEF, see ?key=sk-test-0123456789abcdef")
    'bad key ***, see ?key=***'
    """
    text = text if isinstance(text, str) else str(text)
    for s in secrets:
        register_secret(s)
    known = _known()
    if known is not None:
        text = known.sub(MASK, text)
    text = _TOKEN_SHAPES.sub(lambda m: (m.group(1) or "") + MASK, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
