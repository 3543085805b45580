"""The built-in local model: deterministic, instant, offline stand-in for chat and embeddings.

With no API key, demos, notebooks and tests still need answers that behave like a model's: the same
request gives the same answer, a different prompt gives a different one, structured output parses,
``max_tokens`` truncates, and the answers *teach*: a classification follows the text it classifies,
a student asks and a teacher explains, a Chinese prompt gets Chinese, a question about numbered
lines gets plausible line numbers, and embeddings of texts that share content words are close.
This module is the face (request checking, OpenAI-shaped responses, token counts); each behaviour
lives in a module of its own: :mod:`~bfnb.local.classify`, :mod:`~bfnb.local.dialogue`,
:mod:`~bfnb.local.line_numbers`, :mod:`~bfnb.local.structured`, :mod:`~bfnb.local.writing`,
:mod:`~bfnb.local.vectors`, all reading prompts through :mod:`~bfnb.local.words`.

Honesty: free text ends with the marker ``(local model)``; answers that must parse (a number, a
label, JSON) cannot carry it, so every response also says so in ``metadata`` (and in its
``system_fingerprint``, ``bfnb-local``).  Tokens are estimated as ``ceil(chars / 4)`` (plus 4 per
chat message), the figure the local server also counts against its TPM limit.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from . import classify, dialogue, line_numbers, structured, writing
from .vectors import embed_one
from .words import MARKER, language, mix, salient, stable_hash

__all__ = [
    "EMBED_DIMENSIONS",
    "LOCAL_CHAT_MODEL",
    "LOCAL_EMBED_MODEL",
    "MARKER",
    "METADATA",
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
#: carried by every response, so that a structured answer too says who answered it
METADATA = {"answered_by": "bfnb local model", "marker": MARKER}
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


# ------------------------------------------------------------------ tokens


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
            out = (_int_param(body, "max_completion_tokens", "max_tokens") or 0) * (_int_param(body, "n") or 1)
        except LocalModelError:
            out = 0
        return estimate_prompt_tokens(messages) + out
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else (raw if isinstance(raw, list) else [])
    return sum(estimate_tokens(t) for t in texts if isinstance(t, str))


# ------------------------------------------------------------------ chat


class _Prompt:
    """A conversation as the local model reads it: the last user message and what came before."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        self.ask = ""
        system: list[str] = []
        told: list[str] = []
        said: list[str] = []
        convo: list[str] = []
        for i, m in enumerate(messages):
            text = message_text(m.get("content"))
            if i == last:
                self.ask = text
                continue
            role = m.get("role")
            (system if role == "system" else convo).append(text)
            (said if role == "assistant" else told).append(text)
        self.system, self.convo = "\n".join(system), "\n".join(convo)
        self.told, self.said = "\n".join(told), "\n".join(said)
        self.context = self.told + "\n" + self.said
        # The subject: the question's words, else the user's and system's earlier words, else the replies'.
        self.words = salient(self.ask) or salient(self.told) or salient(self.said)


def _answer(body: dict[str, Any], messages: list[dict[str, Any]], h: int) -> str:
    p = _Prompt(messages)
    ask, context, words = p.ask, p.context, p.words
    fmt = body.get("response_format") or {}
    fmt_type = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt_type == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema", spec) if isinstance(spec, dict) else {}
        return orjson.dumps(structured.schema_value(schema, ask or context, words, h)).decode()
    if fmt_type == "json_object":
        text = writing.free_text(ask, words, language(ask or context), h).removesuffix("\n" + MARKER)
        return orjson.dumps({"answer": text, "source": MARKER}).decode()
    if labels := classify.labels_in_prompt(ask):
        return classify.choose_label(labels, classify.subject_text(ask, labels))
    if numbers := line_numbers.numbers_answer(ask, context, h):
        return numbers
    lang = language(ask or context)
    role = dialogue.role_of(p.system)
    if role and lang == "en":
        return dialogue.role_turn(role, ask, p.convo, h)
    return writing.free_text(ask, words, lang, h)


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
    h0 = stable_hash(model, messages, body.get("temperature"), body.get("seed"), n)
    for i in range(n):
        text, finish = _answer(body, messages, mix(h0, i)), "stop"
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
        "metadata": dict(METADATA),
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# ------------------------------------------------------------------ embeddings


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
        vec = embed_one(text, dims)
        value: Any = base64.b64encode(vec.astype("<f4").tobytes()).decode() if fmt == "base64" else vec.tolist()
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(estimate_tokens(t) for t in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "metadata": dict(METADATA),
    }
