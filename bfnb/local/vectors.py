"""Embeddings: feature-hashed bags of content words, so that similar means "shares content words".

A stand-in embedding must make a similarity demo teach: the closest pairs of titles should share a
word that matters ("Heracles", "Golden"), not "the" and "of".  So a text's vector is a signed
feature hash of its case-folded words without stop words (all words, if it has nothing else),
plus lightly weighted bigrams of those words so that word order matters a little, normalised to
length 1.  Same text, same vector; texts that share no content word are close to orthogonal.
"""

from __future__ import annotations

import hashlib
import itertools
from functools import lru_cache

import numpy as np

from .words import content_words

__all__ = ["embed_one"]

_BIGRAM_WEIGHT = 0.35


@lru_cache(maxsize=65536)
def _feature(token: str, dims: int) -> tuple[int, float]:
    """Signed feature hash of a token: (column, +1 or -1)."""
    v = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    return v % dims, (1.0 if (v >> 63) else -1.0)


def embed_one(text: str, dims: int) -> np.ndarray:
    """The unit-length float32 vector of one text."""
    words = content_words(text) or [text.strip().lower() or "<empty>"]
    feats = [_feature(w, dims) for w in words]
    weights = [1.0] * len(feats)
    for a, b in itertools.pairwise(words):
        feats.append(_feature(a + " " + b, dims))
        weights.append(_BIGRAM_WEIGHT)
    cols = np.fromiter((c for c, _ in feats), dtype=np.int64, count=len(feats))
    vals = np.fromiter((s for _, s in feats), dtype=np.float64, count=len(feats)) * np.asarray(weights)
    vec = np.bincount(cols, weights=vals, minlength=dims)
    norm = float(np.linalg.norm(vec))
    return (vec / norm if norm else vec).astype(np.float32)
