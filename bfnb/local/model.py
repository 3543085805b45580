"""The built-in local model: deterministic, instant, offline stand-in for chat and embeddings.

With no API key, demos, notebooks and tests still need answers that behave like a model's: the same
request gives the same answer, a different prompt gives a different one, structured output parses,
``max_tokens`` truncates, and embeddings of texts that share words are close.  This module gives
exactly that from a hash of the request and the words of the prompt, in tens of microseconds and
with no network.  Request and response dicts have OpenAI's shape, so the in-process ``@local``
provider and the local HTTP server (``bfnb.local.server``) return what a real provider would.
Free text ends with the short marker ``(local model)`` so nobody mistakes it for a real answer;
numeric and JSON answers carry no marker, because it would break their format.

Tokens are estimated as ``ceil(chars / 4)`` (plus 4 per chat message), the figure the local server
also counts against its TPM limit.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import re
import zlib
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

__all__ = [
    "EMBED_DIMENSIONS",
    "LOCAL_CHAT_MODEL",
    "LOCAL_EMBED_MODEL",
    "MARKER",
    "LocalModelError",
    "chat_completion",
    "embedding",
    "estimate_prompt_tokens",
    "estimate_request_tokens",
    "estimate_tokens",
    "message_text",
]

LOCAL_CHAT_MODEL = "local-chat"
LOCAL_EMBED_MODEL = "local-embed"
MARKER = "(local model)"
DEFAULT_EMBED_DIMENSIONS = 256
# Native sizes of well-known embedding models, so a stand-in answer has the shape a user expects.
EMBED_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
MAX_EMBED_INPUTS = 2048


class LocalModelError(ValueError):
    """A request the local model cannot answer (the server maps it to HTTP 400)."""


# ------------------------------------------------------------------ tokens and words

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_INT = re.compile(r"(?<![\w.])\d{1,7}(?![\w.]|\.\d)")
_STOP_WORDS = """
    a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just let me more most my
    no nor not now of off on once only or other our out over own please same she should so some
    such than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would write you your yours
    give tell make answer respond using use text title titled words word short long story poem
    model local beneath meets forgot slow still introduce describe explain summarize summarise
    continue list provide generate create compose translate ask questions reply discuss following
    based briefly
"""
_STOP = frozenset(_STOP_WORDS.split())
_NOUNS = (
    "light", "river", "morning", "stone", "wind", "harbor", "shadow", "garden", "ember", "tide",
    "lantern", "meadow", "echo", "thread", "mountain", "candle", "orchard", "voice", "rain", "horizon",
)  # fmt: skip
_ADJS = ("quiet", "silver", "old", "bright", "distant", "gentle", "restless", "golden", "hidden", "patient",
         "wild", "small")  # fmt: skip
_VERBS = (
    "remembers",
    "carries",
    "gathers",
    "whispers",
    "follows",
    "keeps",
    "turns",
    "wakes",
    "holds",
    "mends",
)
_LINES = (  # each line uses {A}, so the prompt's words appear in turn
    "{A} beneath the {adj} {noun},",
    "the {adj} {noun} {verb} {A},",
    "and {A} {verb} the {noun} of {B}.",
    "where {A} meets the {adj} {noun},",
    "a {noun} of {A}, {adj} and slow,",
    "{A} {verb} what the {noun} forgot;",
    "still the {adj} {noun} {verb} {A}.",
)

# Asks for numbers as the answer ("give the line numbers where ...", "answer with an integer"),
# not merely mentions one ("the myth number 17", "a poem about the numbers 3 and 7").
_LINE_NUMBERS = re.compile(r"\b(line numbers?|numbers? of the lines?|which lines?|indices|indexes)\b", re.I)
_ANSWER_NUMBERS = re.compile(
    r"\b(answer|respond|reply|return|output|give|list)\b[^.?!\n]{0,25}\b(numbers|integers|an? (number|integer))\b",
    re.I,
)
_CREATIVE = re.compile(r"\b(poem|poetry|story|stories|essay|haiku|song|verse|tale)s?\b", re.I)
_HOW_MANY = re.compile(r"\bhow many\b", re.I)
_COMMAS = re.compile(r"\bcomma", re.I)
_PER_LINE = re.compile(r"one per line|newline", re.I)


def estimate_tokens(text: str) -> int:
    """Tokens of a text, estimated as ``ceil(chars / 4)``."""
    return (len(text) + 3) // 4


def message_text(content: Any) -> str:
    """The text of a message's ``content`` (a string, None, or a list of content parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Prompt tokens of a chat request: ``ceil(chars / 4)`` per message content plus 4 per message."""
    return sum(estimate_tokens(message_text(m.get("content"))) + 4 for m in messages)


def _int_param(body: dict[str, Any], *names: str) -> int | None:
    """The first of ``names`` set in ``body``, checked to be a non-negative integer."""
    for name in names:
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LocalModelError(f"{name!r} must be a non-negative integer, got {value!r}")
            return value
    return None


def estimate_request_tokens(body: dict[str, Any], kind: str = "chat") -> int:
    """Tokens a request counts against a TPM limit at admission, as OpenAI counts them.

    Chat: estimated prompt tokens + ``max_tokens`` (or ``max_completion_tokens``) × ``n``;
    embeddings: estimated input tokens.  Malformed fields count as 0, never raise.
    """
    if kind == "chat":
        messages = body.get("messages")
        messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
        try:
            out = (_int_param(body, "max_completion_tokens", "max_tokens") or 0) * (
                _int_param(body, "n") or 1
            )
        except LocalModelError:
            out = 0
        return estimate_prompt_tokens(messages) + out
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else (raw if isinstance(raw, list) else [])
    return sum(estimate_tokens(t) for t in texts if isinstance(t, str))


def _hash(*parts: Any) -> int:
    data = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _mix(h: int, i: int) -> int:
    """A cheap 64-bit mix of a hash and a small integer (splitmix64 finaliser)."""
    z = (h + 0x9E3779B97F4A7C15 * (i + 1)) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


@lru_cache(maxsize=4096)
def _salient(text: str) -> tuple[str, ...]:
    """Content words of a text, in order of first appearance, without stop words or duplicates."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text.replace(MARKER, " ")):
        lw = w.lower().strip("'’-")
        if len(lw) > 2 and lw not in _STOP and lw not in _VERBS:
            seen.setdefault(w.strip("'’-"), None)
    return tuple(seen)


# ------------------------------------------------------------------ chat


def _prompt(messages: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(last user message, other user and system turns, assistant turns) of a conversation."""
    last = -1
    for i, m in enumerate(messages):
        if m.get("role") == "user":
            last = i
    ask, told, said = "", [], []
    for i, m in enumerate(messages):
        if i == last:
            ask = message_text(m.get("content"))
        else:
            (said if m.get("role") == "assistant" else told).append(message_text(m.get("content")))
    return ask, "\n".join(told), "\n".join(said)


_NUMBER_HINTS = ("number", "integer", "line", "indices", "indexes", "how many")


def _numbers_answer(ask: str, context: str, h: int) -> str | None:
    """A few plausible integers drawn from the prompt, if the prompt asks for numbers."""
    low = ask.lower()
    if not any(hint in low for hint in _NUMBER_HINTS):  # cheap test before the regexes
        return None
    creative = _CREATIVE.search(ask)
    how_many = not creative and _HOW_MANY.search(ask)
    if not (how_many or _LINE_NUMBERS.search(ask) or (not creative and _ANSWER_NUMBERS.search(ask))):
        return None
    found = sorted({int(x) for x in _INT.findall(ask + "\n" + context)})
    if how_many or not found:
        return str(1 + h % 9)
    k = min(len(found), 2 + h % 3 + len(found) // 40)
    rest = found[1:]
    picks = {found[0]}
    for step in range(k - 1):
        if rest:
            picks.add(rest[_mix(h, step) % len(rest)])
    sep = ", " if _COMMAS.search(ask) else ("\n" if _PER_LINE.search(ask) else " ")
    return sep.join(str(x) for x in sorted(picks))


def _free_text(words: tuple[str, ...], h: int) -> str:
    """A short poem-like text of 3-5 lines built from prompt words and a small vocabulary."""
    n = len(words)
    lines = []
    for i in range(3 + h % 3):
        g = _mix(h, i)
        # Walk the prompt's words in turn so that each of the first few appears at least once.
        a = words[(i + h) % n] if n else _NOUNS[(g >> 40) % len(_NOUNS)]
        b = words[(i + 1 + h) % n] if n else _NOUNS[(g >> 44) % len(_NOUNS)]
        lines.append(
            _LINES[g % len(_LINES)].format(
                A=a, B=b, noun=_NOUNS[(g >> 8) % len(_NOUNS)], adj=_ADJS[(g >> 16) % len(_ADJS)],
                verb=_VERBS[(g >> 24) % len(_VERBS)],
            )
        )  # fmt: skip
    lines[0] = lines[0][0].upper() + lines[0][1:]
    lines[-1] = lines[-1].rstrip(",;") + ("" if lines[-1].endswith(".") else ".")
    return "\n".join(lines) + "\n" + MARKER


def _schema_value(schema: Any, root: dict[str, Any], words: tuple[str, ...], h: int, depth: int = 0) -> Any:
    """A value that validates against ``schema`` (the subset structured outputs use)."""
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "$ref" in schema:
        node: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return _schema_value(node, root, words, h, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][h % len(schema["enum"])]
    for alt in ("anyOf", "oneOf", "allOf"):
        if schema.get(alt):
            options = [s for s in schema[alt] if not (isinstance(s, dict) and s.get("type") == "null")]
            return _schema_value((options or schema[alt])[0], root, words, h, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else ("array" if "items" in schema else "string")
    if kind == "object":
        props = schema.get("properties") or {}
        return {
            name: _schema_value(sub, root, words, _mix(h, zlib.crc32(name.encode())), depth + 1)
            for name, sub in props.items()
        }
    if kind == "array":
        lo = int(schema.get("minItems", 1))
        hi = max(lo, int(schema.get("maxItems", lo + 2)))
        n = lo + h % (hi - lo + 1)
        return [
            _schema_value(schema.get("items", {}), root, words, _mix(h, i + 7919), depth + 1)
            for i in range(n)
        ]
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 100))
        if "exclusiveMinimum" in schema and "minimum" not in schema:
            lo += 1 if kind == "integer" else 1e-6
        if "exclusiveMaximum" in schema and "maximum" not in schema:
            hi -= 1 if kind == "integer" else 1e-6
        lo, hi = math.ceil(lo), math.floor(hi)
        value = lo + h % (hi - lo + 1) if hi >= lo else lo
        return int(value) if kind == "integer" else float(value) + (h % 100) / 100 * (hi > value)
    if kind == "boolean":
        return bool(h & 1)
    if kind == "null":
        return None
    # string
    if words:
        text = " ".join(words[(h + i) % len(words)] for i in range(min(len(words), 1 + h % 4)))
    else:
        text = f"{_ADJS[h % len(_ADJS)]} {_NOUNS[(h >> 8) % len(_NOUNS)]}"
    lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
    text = text.ljust(lo, ".")
    return text[: int(hi)] if hi is not None else text


def _answer(body: dict[str, Any], messages: list[dict[str, Any]], h: int) -> str:
    ask, told, said = _prompt(messages)
    context = told + "\n" + said
    words = _salient(ask) or _salient(told) or _salient(said)
    fmt = body.get("response_format") or {}
    fmt_type = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt_type == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema", spec) if isinstance(spec, dict) else {}
        return orjson.dumps(_schema_value(schema, schema, words, h)).decode()
    if fmt_type == "json_object":
        return orjson.dumps(
            {"answer": _free_text(words, h).removesuffix("\n" + MARKER), "source": MARKER}
        ).decode()
    return _numbers_answer(ask, context, h) or _free_text(words, h)


def chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    """Answer an OpenAI ``chat.completions`` request body with an OpenAI-shaped response dict."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise LocalModelError("'messages' must be a non-empty list of {'role': ..., 'content': ...} objects")
    model = body.get("model") or LOCAL_CHAT_MODEL
    n = _int_param(body, "n") or 1
    if n > 128:
        raise LocalModelError(f"'n' must be between 1 and 128, got {n}")
    limit = _int_param(body, "max_completion_tokens", "max_tokens")
    choices, completion_tokens = [], 0
    h0 = _hash(model, messages, body.get("temperature"), body.get("seed"), n)
    for i in range(n):
        text, finish = _answer(body, messages, _mix(h0, i)), "stop"
        if limit is not None and estimate_tokens(text) > limit:
            text, finish = text[: limit * 4], "length"
        completion_tokens += estimate_tokens(text)
        choices.append(
            {
                "index": i,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        )
    prompt_tokens = estimate_prompt_tokens(messages)
    return {
        "id": f"chatcmpl-local-{h0:016x}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "system_fingerprint": "bfnb-local",
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# ------------------------------------------------------------------ embeddings


@lru_cache(maxsize=65536)
def _feature(token: str, dims: int) -> tuple[int, float]:
    """Signed feature hash of a token: (column, +1 or -1)."""
    v = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    return v % dims, (1.0 if (v >> 63) else -1.0)


def _embed_one(text: str, dims: int) -> np.ndarray:
    words = [w.lower() for w in _WORD.findall(text)] or [text.strip().lower() or "<empty>"]
    feats = [_feature(w, dims) for w in words]
    weights = [1.0] * len(feats)
    # Bigrams weigh lightly: word order matters a little, shared words matter most.
    for a, b in itertools.pairwise(words):
        feats.append(_feature(a + " " + b, dims))
        weights.append(0.35)
    cols = np.fromiter((c for c, _ in feats), dtype=np.int64, count=len(feats))
    vals = np.fromiter((s for _, s in feats), dtype=np.float64, count=len(feats)) * np.asarray(weights)
    vec = np.bincount(cols, weights=vals, minlength=dims)
    norm = float(np.linalg.norm(vec))
    return (vec / norm if norm else vec).astype(np.float32)


def embedding(body: dict[str, Any]) -> dict[str, Any]:
    """Answer an OpenAI ``embeddings`` request body with an OpenAI-shaped response dict."""
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise LocalModelError("'input' must be a string or a non-empty list of strings")
    if len(inputs) > MAX_EMBED_INPUTS:
        raise LocalModelError(f"'input' holds {len(inputs)} texts; at most {MAX_EMBED_INPUTS} per request")
    model = body.get("model") or LOCAL_EMBED_MODEL
    dims = body.get("dimensions") or EMBED_DIMENSIONS.get(str(model), DEFAULT_EMBED_DIMENSIONS)
    if not isinstance(dims, int) or dims < 1:
        raise LocalModelError(f"'dimensions' must be a positive integer, got {dims!r}")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise LocalModelError(f"'encoding_format' must be 'float' or 'base64', got {fmt!r}")
    data = []
    for i, text in enumerate(inputs):
        vec = _embed_one(text, dims)
        value: Any = (
            base64.b64encode(vec.astype("<f4").tobytes()).decode() if fmt == "base64" else vec.tolist()
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(estimate_tokens(t) for t in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
