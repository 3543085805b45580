"""Request keys: the sha256 of a request's canonical content.

A key covers everything that changes an answer (provider, model, messages, every sampling
parameter, the response schema, the sample index for n-sampling) and nothing that does not (the
entry idx, the op's position, construction order, API keys).  Editing a prompt changes only the
keys of the requests it changes; reverting the edit brings the old keys, and their answers, back.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

__all__ = ["SECRET_FIELDS", "canonical", "json_default", "keyed_request", "request_key"]

# Fields that may carry credentials if a user passes them in a request body; never hashed or stored.
SECRET_FIELDS = frozenset({"api_key", "authorization", "Authorization", "headers", "extra_headers"})

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_default(obj: Any) -> Any:
    """orjson's ``default``: sets as sorted lists, pydantic models as their dump; else TypeError."""
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    raise TypeError(f"cannot put a {type(obj).__name__} in a request")


def canonical(request: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of a request (sorted keys, no secrets)."""
    if SECRET_FIELDS.isdisjoint(request):
        body = request
    else:
        body = {k: v for k, v in request.items() if k not in SECRET_FIELDS}
    return orjson.dumps(body, default=json_default, option=_OPTS)


def request_key(endpoint: str, request: dict[str, Any], *, kind: str = "chat", sample: int = 0) -> str:
    """The 32-hex-digit key of one call: endpoint + kind + sample index + canonical request.

    ``endpoint`` names who answers (``provider|base_url|model``, see :class:`bfnb.calls.Endpoint`),
    so the same request sent to another provider, URL or model is another call.
    """
    return keyed_request(endpoint, request, kind=kind, sample=sample)[0]


def keyed_request(endpoint: str, request: dict[str, Any], *, kind: str = "chat", sample: int = 0) -> tuple[str, int]:
    """``(key, size)``: the key of :func:`request_key` and the request's canonical size in bytes.

    The size (UTF-8 JSON of the body, schema and tools included) is an upper bound on the input
    tokens of the call (every token is at least one byte), which is what a budget reserves.
    """
    body = canonical(request)
    h = hashlib.sha256()
    h.update(f"{kind}\x00{endpoint}\x00{sample}\x00".encode())
    h.update(body)
    return h.hexdigest()[:32], len(body)
