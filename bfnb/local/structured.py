"""Structured answers: a JSON value that validates against the request's schema.

Structured output is how a notebook gets columns (``label``, ``reason``) from a model, so the
stand-in's values must both validate and mean something: an enum or ``Literal`` field is a
classification (:mod:`bfnb.local.classify` picks it from the text of the prompt), a ``reason``-like
string quotes the words that decided it, and other strings reuse the prompt's content words.  The
JSON cannot carry the "(local model)" marker without breaking its format, so the response's
``metadata`` carries it instead (see :func:`bfnb.local.model.chat_completion`).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from . import classify
from .words import mix

__all__ = ["schema_value"]

_ADJS = ("quiet", "silver", "old", "bright", "distant", "gentle", "restless", "golden", "hidden", "patient")
_NOUNS = ("light", "river", "morning", "stone", "wind", "harbor", "shadow", "garden", "ember", "tide")
_REASON_FIELDS = ("reason", "reasoning", "explanation", "rationale", "justification", "why")


class _Ctx:
    """What every field of one answer shares: the schema root, the prompt's text and words."""

    def __init__(self, root: dict[str, Any], subject: str, words: tuple[str, ...]) -> None:
        self.root, self.subject, self.words = root, subject, words
        self.last_label: str | None = None


def schema_value(schema: Any, subject: str, words: tuple[str, ...], h: int) -> Any:
    """A value that validates against ``schema`` (the subset structured outputs use)."""
    root = schema if isinstance(schema, dict) else {}
    return _value(schema, _Ctx(root, subject, words), h, 0, "")


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def _value(schema: Any, ctx: _Ctx, h: int, depth: int, name: str) -> Any:
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "$ref" in schema:
        return _value(_resolve(str(schema["$ref"]), ctx.root), ctx, h, depth + 1, name)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        options = list(schema["enum"])
        if all(isinstance(o, str) for o in options):
            ctx.last_label = classify.choose_label(options, classify.subject_text(ctx.subject, options))
            return ctx.last_label
        return options[h % len(options)]
    for alt in ("anyOf", "oneOf", "allOf"):
        if schema.get(alt):
            options = [s for s in schema[alt] if not (isinstance(s, dict) and s.get("type") == "null")]
            return _value((options or schema[alt])[0], ctx, h, depth + 1, name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else ("array" if "items" in schema else "string")
    if kind == "object":
        props = schema.get("properties") or {}
        # Enums first, so that a reason written after them can cite what decided the label.
        order = sorted(props, key=lambda p: not _is_enum(props[p], ctx.root))
        values = {p: _value(props[p], ctx, mix(h, zlib.crc32(p.encode())), depth + 1, p) for p in order}
        return {p: values[p] for p in props}
    if kind == "array":
        lo = int(schema.get("minItems", 1))
        hi = max(lo, int(schema.get("maxItems", lo + 2)))
        n = lo + h % (hi - lo + 1)
        return [_value(schema.get("items", {}), ctx, mix(h, i + 7919), depth + 1, name) for i in range(n)]
    if kind in ("integer", "number"):
        return _number(schema, kind, h)
    if kind == "boolean":
        return bool(h & 1)
    if kind == "null":
        return None
    return _string(schema, ctx, h, name)


def _is_enum(schema: Any, root: dict[str, Any]) -> bool:
    if isinstance(schema, dict) and "$ref" in schema:
        schema = _resolve(str(schema["$ref"]), root)
    return isinstance(schema, dict) and bool(schema.get("enum"))


def _number(schema: dict[str, Any], kind: str, h: int) -> int | float:
    lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 100))
    if "exclusiveMinimum" in schema and "minimum" not in schema:
        lo += 1 if kind == "integer" else 1e-6
    if "exclusiveMaximum" in schema and "maximum" not in schema:
        hi -= 1 if kind == "integer" else 1e-6
    lo, hi = math.ceil(lo), math.floor(hi)
    value = lo + h % (hi - lo + 1) if hi >= lo else lo
    return int(value) if kind == "integer" else float(value) + (h % 100) / 100 * (hi > value)


def _string(schema: dict[str, Any], ctx: _Ctx, h: int, name: str) -> str:
    words = ctx.words
    if name.lower() in _REASON_FIELDS and ctx.last_label is not None:
        text = classify.reason(ctx.subject, ctx.last_label)
    elif words:
        text = " ".join(words[(h + i) % len(words)] for i in range(min(len(words), 1 + h % 4)))
    else:
        text = f"{_ADJS[h % len(_ADJS)]} {_NOUNS[(h >> 8) % len(_NOUNS)]}"
    lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
    text = text.ljust(lo, ".")
    return text[: int(hi)] if hi is not None else text
