"""EmbedText: formats, per-text caching, packing many texts per request, similarity offline."""

from __future__ import annotations

import numpy as np

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import (
    CallLLMEmbedding,
    DecodeBase64Embedding,
    EmbedText,
    ExtractResponseEmbedding,
    FromList,
    GenerateLLMEmbeddingRequest,
)

MODEL = "text-embedding-3-small@openai"


def test_output_formats_and_seed_snippet_offline():
    words = [{"keyword": "the golden fleece"}, {"keyword": "golden apples"}, {"keyword": "a spider weaving"}]
    out = (bf.Graph() | FromList(words) | EmbedText("keyword", model=MODEL, output_format="list")).run()
    vecs = [np.asarray(v) for v in out["embedding"]]
    assert all(isinstance(v, list) for v in out["embedding"]) and len({len(v) for v in vecs}) == 1
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2])  # shared words → closer
    np_out = (
        bf.Graph() | FromList(words) | EmbedText("keyword", model=MODEL, output_format="numpy", dimensions=64)
    ).run()
    assert all(isinstance(v, np.ndarray) and v.shape == (64,) and v.dtype == np.float32 for v in np_out["embedding"])
    b64 = (bf.Graph() | FromList(words) | EmbedText("keyword", model=MODEL)).run()
    assert b64["embedding"].iloc[0]["format"] == "numpy.ndarray"


def test_many_texts_per_request_each_cached_on_its_own(server):
    texts = [{"t": f"text number {i}"} for i in range(5000)]
    out = (bf.Graph() | FromList(texts) | EmbedText("t", model=MODEL, output_format="numpy")).run()
    assert (out["status"] == "done").all()
    st = server.stats()
    assert st["requests"] <= 5  # packed: ≤ 2,048 inputs per call
    memo.clear()
    more = [*texts, {"t": "one new text"}]
    (bf.Graph() | FromList(more) | EmbedText("t", model=MODEL, output_format="numpy")).run()
    assert server.stats()["requests"] == st["requests"] + 1  # only the new text was sent


def test_seed_embedding_chain():
    g = (
        bf.Graph()
        | FromList([{"t": "hello world"}])
        | GenerateLLMEmbeddingRequest("t", model=MODEL)
        | CallLLMEmbedding()
        | ExtractResponseEmbedding()
        | DecodeBase64Embedding()
    )
    out = g.run()
    assert isinstance(out["embedding"].iloc[0], list) and len(out["embedding"].iloc[0]) > 0
