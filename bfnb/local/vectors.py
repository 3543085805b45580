"""Embeddings: feature-hashed bags of content words, so that similar means "shares content words".

A stand-in embedding must make a similarity demo teach: the closest pairs of titles should share a
word that matters ("Heracles", "Golden"), not "the" and "of".  So a text's vector is a signed
feature hash of its case-folded words without stop words (all words, if it has nothing else),
plus lightly weighted bigrams of those words so that word order matters a little, normalised to
length 1.  Each token is spread over ``_SLOTS`` hashed columns: a shared word then overlaps in all of
them, while an accidental collision of two different words in 256 columns overlaps in one slot and
adds little, so a pair that shares no word stays near 0.  Same text, same vector.
"""

from __future__ import annotations

import hashlib
import itertools
from functools import lru_cache

import numpy as np

from .words import content_words

__all__ = ["embed_one"]

_BIGRAM_WEIGHT = 0.35


_SLOTS = 8


@lru_cache(maxsize=65536)
def _features(token: str, dims: int) -> tuple[tuple[int, float], ...]:
    """Signed feature hashes of a token: ``_SLOTS`` pairs of (column, +1 or -1)."""
    digest = hashlib.blake2b(token.encode(), digest_size=8 * _SLOTS).digest()
    out = []
    for i in range(_SLOTS):
        v = int.from_bytes(digest[8 * i : 8 * i + 8], "little")
        out.append((v % dims, 1.0 if (v >> 63) else -1.0))
    return tuple(out)


def embed_one(text: str, dims: int) -> np.ndarray:
    """The unit-length float32 vector of one text."""
    words = content_words(text) or [text.strip().lower() or "<empty>"]
    tokens = [(w, 1.0) for w in words] + [(a + " " + b, _BIGRAM_WEIGHT) for a, b in itertools.pairwise(words)]
    feats = [(c, s * weight) for tok, weight in tokens for c, s in _features(tok, dims)]
    cols = np.fromiter((c for c, _ in feats), dtype=np.int64, count=len(feats))
    vals = np.fromiter((s for _, s in feats), dtype=np.float64, count=len(feats))
    vec = np.bincount(cols, weights=vals, minlength=dims)
    norm = float(np.linalg.norm(vec))
    return (vec / norm if norm else vec).astype(np.float32)
