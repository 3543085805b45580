"""Structured answers: parse a model's JSON against its schema, and spread it into columns.

``AskLLM(..., response_format=Review, output_key=["label", "reason"])`` puts one column per schema
field; a str ``output_key`` keeps the whole answer as one dict column.  An answer that is not JSON,
or fails its schema (a pydantic model's validation, or a JSON schema's type, required keys and
enums), makes a *failed row* carrying the validation error, not a failed run: the other rows keep
their answers, and the call stays answered in the ledger (a re-run reads it again for free).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["check_output_keys", "parse_answer", "schema_fields", "spread"]


def schema_fields(response_format: Any) -> list[str] | None:
    """The top-level field names of a pydantic model or a JSON schema (None when unknown)."""
    fields = getattr(response_format, "model_fields", None)
    if fields is not None:
        return list(fields)
    if isinstance(response_format, dict):
        schema = response_format
        if schema.get("type") == "json_schema":
            schema = (schema.get("json_schema") or {}).get("schema") or {}
        props = schema.get("properties")
        return list(props) if isinstance(props, dict) else None
    return None


def check_output_keys(output_key: Any, response_format: Any) -> list[str] | None:
    """Validate a list ``output_key`` against the schema; None for a str key (one column)."""
    if isinstance(output_key, str):
        return None
    keys = list(output_key) if isinstance(output_key, (list, tuple)) else None
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise TypeError(f"output_key is a field name or a list of field names, got {output_key!r}")
    if response_format is None:
        raise TypeError(
            f"output_key={keys!r} spreads a structured answer into columns: give response_format= "
            "(a pydantic model or a JSON schema) too, or a single output_key for text"
        )
    known = schema_fields(response_format)
    if known is not None:
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise ValueError(f"output_key names {unknown}, which the response_format lacks; its fields: {known}")
    return keys


def parse_answer(text: str, response_format: Any) -> tuple[Any, str | None]:
    """(the parsed answer, None) or (None, why it fails its schema)."""
    try:
        data = json.loads(text)
    except ValueError as e:
        return None, f"the answer is not valid JSON ({e}): {_short(text)}"
    if hasattr(response_format, "model_validate"):
        try:
            return response_format.model_validate(data).model_dump(), None
        except Exception as e:  # pydantic.ValidationError: say which field and why
            return None, f"the answer fails its schema {response_format.__name__}: {_pydantic_errors(e)}"
    if isinstance(response_format, dict):
        problem = _check_schema(data, response_format)
        if problem:
            return None, f"the answer fails its schema: {problem}"
    return data, None


def spread(values: Sequence[Any], keys: Sequence[str]) -> dict[str, list[Any]]:
    """One column per key from a list of answer dicts (None where an answer is missing)."""
    return {k: [v.get(k) if isinstance(v, dict) else None for v in values] for k in keys}


def _pydantic_errors(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        try:
            parts = [
                f"{'.'.join(str(x) for x in err.get('loc', ())) or 'answer'}: {err.get('msg')}" for err in errors()
            ]
            return "; ".join(parts[:5])
        except Exception:
            pass
    return str(e).splitlines()[0]


_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def _check_schema(data: Any, fmt: dict[str, Any]) -> str | None:
    schema = fmt
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
    elif fmt.get("type") in ("json_object", "text"):
        return None
    return _check(data, schema, "answer")


def _check(value: Any, schema: dict[str, Any], where: str) -> str | None:
    """A small subset of JSON Schema: type, required, properties, enum (enough for answers)."""
    want = schema.get("type")
    py = _TYPES.get(want) if isinstance(want, str) else None
    if py is not None and (not isinstance(value, py) or (want in ("integer", "number") and isinstance(value, bool))):
        return f"{where} should be {want}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} should be one of {schema['enum']}, got {value!r}"
    if isinstance(value, dict):
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            return f"{where} lacks {missing}"
        for k, sub in (schema.get("properties") or {}).items():
            if k in value and isinstance(sub, dict):
                problem = _check(value[k], sub, f"{where}.{k}" if where != "answer" else k)
                if problem:
                    return problem
    return None


def _short(text: str, n: int = 80) -> str:
    return repr(text if len(text) <= n else text[: n - 1] + "…")
