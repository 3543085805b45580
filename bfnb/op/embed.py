"""Embedding ops: EmbedText, and the seed's request → call → extract → decode chain.

Every text is its own request and its own ledger record (so each is cached on its own), while the
embedding broker packs many pending texts into one HTTP call (up to the API's 2,048 inputs).
Vectors travel as base64 float32 (compact in the ledger) and are decoded to the asked format:
``"list"`` (floats), ``"numpy"`` (an array) or ``"base64"`` (the seed's self-describing dict).
"""

from __future__ import annotations

import base64
from typing import Any, Unpack

import numpy as np
import pandas as pd

from .. import batch as B
from ..calls import Calls, Endpoint, resolve_endpoint
from ..ledger.records import CallRecord, Status
from .broker_op import BrokerOp
from .keywords import SeedBrokerKeywords
from .llm import CallRequests
from .op import MapOp, RunContext
from .prompts import check_present, is_missing

__all__ = [
    "CallLLMEmbedding",
    "DecodeBase64Embedding",
    "EmbedText",
    "ExtractResponseEmbedding",
    "GenerateLLMEmbeddingRequest",
    "decode_embedding",
    "encode_ndarray",
]

FORMATS = ("base64", "list", "numpy")


def encode_ndarray(arr: np.ndarray) -> dict[str, Any]:
    """The seed's self-describing base64 form of an array."""
    arr = np.ascontiguousarray(arr)
    return {
        "format": "numpy.ndarray",
        "bytes": base64.b64encode(arr.tobytes()).decode(),
        "dtype": str(arr.dtype),
        "shape": list(arr.shape),
    }


def decode_embedding(value: Any, dtype: str = "float32") -> np.ndarray | None:
    """An embedding in any of its forms (list, base64 str, seed dict, array) as a numpy array."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    if isinstance(value, dict) and "bytes" in value:
        arr = np.frombuffer(base64.b64decode(value["bytes"]), dtype=value.get("dtype", "float32"))
        return arr.reshape(value.get("shape", [-1])).astype(dtype, copy=False)
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), dtype="float32").astype(dtype, copy=False)
    return np.asarray(value, dtype=dtype)


def _format(arr: np.ndarray | None, output_format: str) -> Any:
    if arr is None:
        return None
    if output_format == "list":
        return arr.tolist()
    if output_format == "numpy":
        return arr
    return encode_ndarray(arr)


def _record_vector(rec: CallRecord | None, dtype: str) -> np.ndarray | None:
    if rec is None or rec.status != Status.DONE:
        return None
    return _response_vector(rec.response, dtype)


def _response_vector(resp: dict[str, Any] | None, dtype: str) -> np.ndarray | None:
    data = (resp or {}).get("data") or []
    if not data:
        return None
    return decode_embedding(data[0].get("embedding"), dtype)


def embedding_body(model_name: str, text: str, dimensions: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model_name, "input": text, "encoding_format": "base64"}
    if dimensions is not None:
        body["dimensions"] = int(dimensions)
    return body


class EmbedText(BrokerOp):
    """The embedding of ``input_key`` (converted to str) into ``output_key``."""

    call_kind = "embedding"

    def __init__(
        self,
        input_key: str,
        *,
        model: str | None = None,
        output_key: str = "embedding",
        dimensions: int | None = None,
        dtype: str = "float32",
        output_format: str = "base64",
        status_key: str = "status",
        error_key: str = "error",
        missing: str = "error",
        **seed_keywords: Unpack[SeedBrokerKeywords],
    ) -> None:
        from ..options import default_embedding_model

        if output_format not in FORMATS:
            raise ValueError(f"output_format must be one of {FORMATS}, got {output_format!r}")
        self.input_key, self.output_key = input_key, output_key
        self.model = model or default_embedding_model()
        resolve_endpoint("embedding", self.model)  # a missing key fails here, at once
        self.dimensions, self.dtype, self.output_format = dimensions, dtype, output_format
        self.status_key, self.error_key = status_key, error_key
        self.missing = missing  # a text that is None/NaN: "error" (before sending) or "empty"
        self.init_broker_op(seed_keywords)

    def display_name(self) -> str:
        return f"EmbedText[{self.model}]"

    def requests(self, rows: pd.DataFrame, endpoint: Endpoint) -> list[dict[str, Any]]:
        B.require_fields(rows, [self.input_key], op=self)
        check_present(rows, [self.input_key], self, self.missing)
        texts = ["" if is_missing(v) else str(v) for v in rows[self.input_key].tolist()]
        return [embedding_body(endpoint.model, t, self.dimensions) for t in texts]

    def read(self, rows: pd.DataFrame, calls: Calls) -> dict[str, list[Any]]:
        return {self.output_key: [_format(_record_vector(r, self.dtype), self.output_format) for r in calls.records]}


class GenerateLLMEmbeddingRequest(MapOp):
    """Builds an embedding request for ``input_key`` into ``output_key`` (seed API)."""

    def __init__(
        self,
        input_key: str,
        *,
        model: str | None = None,
        output_key: str = "embedding_request",
        dimensions: int | None = None,
        dtype: str = "float32",
    ) -> None:
        from ..options import default_embedding_model

        self.input_key, self.output_key = input_key, output_key
        self.model = model or default_embedding_model()
        resolve_endpoint("embedding", self.model)
        self.dimensions = dimensions

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        B.require_fields(b, [self.input_key], op=self)
        reqs = [
            embedding_body(self.model, "" if v is None else str(v), self.dimensions) for v in b[self.input_key].tolist()
        ]
        return B.with_fields(b, {self.output_key: reqs})


class CallLLMEmbedding(CallRequests):
    """Sends the embedding requests in ``input_key``; responses into ``output_key`` (seed API)."""

    call_kind = "embedding"

    def __init__(
        self,
        *,
        input_key: str = "embedding_request",
        output_key: str = "embedding_response",
        status_key: str = "status",
        error_key: str = "error",
        **seed_keywords: Unpack[SeedBrokerKeywords],
    ) -> None:
        super().__init__(
            input_key=input_key, output_key=output_key, status_key=status_key, error_key=error_key, **seed_keywords
        )

    def output_tokens(self, body: dict[str, Any]) -> int:
        return 0


class ExtractResponseEmbedding(MapOp):
    """The embedding of a response, in the seed's base64 dict form."""

    def __init__(self, input_key: str = "embedding_response", output_key: str = "embedding") -> None:
        self.input_key, self.output_key = input_key, output_key

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        B.require_fields(b, [self.input_key], op=self)
        vecs = [_format(_response_vector(r, "float32"), "base64") if r else None for r in b[self.input_key].tolist()]
        return B.with_fields(b, {self.output_key: vecs})


class DecodeBase64Embedding(MapOp):
    """Decodes a base64 embedding to a list of floats (or a numpy array with ``output_format``)."""

    def __init__(
        self, input_key: str = "embedding", output_key: str = "embedding", output_format: str = "list"
    ) -> None:
        self.input_key, self.output_key, self.output_format = input_key, output_key, output_format

    def apply(self, b: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        B.require_fields(b, [self.input_key], op=self)
        return B.with_fields(
            b, {self.output_key: [_format(decode_embedding(v), self.output_format) for v in b[self.input_key].tolist()]}
        )
