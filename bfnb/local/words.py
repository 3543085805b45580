"""Words, scripts and deterministic choices: the local model's reading of a prompt.

Every part of the local model reads a prompt the same way: its content words (stop words, the
instruction verbs of prompts and the model's own marker left out, case kept for display, folded for
comparison), the script and language it is written in, and a stable hash of the request from which
every "random" choice is drawn, so that the same request always gets the same answer.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

import orjson

__all__ = [
    "MARKER",
    "STOP",
    "WORD",
    "content_words",
    "fold",
    "language",
    "mix",
    "salient",
    "stable_hash",
    "stem",
]

MARKER = "(local model)"

WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_STOP_WORDS = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just let me more most
    my no nor not now of off on once only or other our out over own please same she should so some
    such than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would write you your yours
    give tell make answer respond using use text title titled words word short long story poem
    model local beneath meets forgot slow still introduce describe explain summarize summarise
    continue list provide generate create compose translate ask questions reply discuss following
    based briefly children children's kids haiku haikus limerick limericks sonnet verse verses ode
    summary sentence paragraph one myth myths
"""
STOP = frozenset(_STOP_WORDS.split())
# Words that carry no topic even in an embedding (a smaller list: "story" or "poem" is content there).
EMBED_STOP = frozenset(
    """a an and are as at be been but by for from has have he her his i in into is it its of on or
    our she so than that the their them then there these they this those to was we were which who
    whom will with you your""".split()
)
# Verbs of the local model's own vocabulary: never taken for content when a later turn reads them.
OWN_WORDS = frozenset("remembers carries gathers whispers follows keeps turns wakes holds mends".split())


def fold(word: str) -> str:
    """A word as compared: lower case, without surrounding apostrophes or hyphens."""
    return word.lower().strip("'’-")


def stem(word: str) -> str:
    """A crude English stem, enough to match ``sports``/``sport`` or ``loved``/``love``."""
    w = fold(word)
    for suffix in ("ingly", "edly", "ness", "ment", "ing", "ies", "ed", "ly", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return w


@lru_cache(maxsize=4096)
def salient(text: str) -> tuple[str, ...]:
    """Content words of a text, in order of first appearance, without stop words or duplicates."""
    seen: dict[str, None] = {}
    for w in WORD.findall(text.replace(MARKER, " ")):
        lw = fold(w)
        if len(lw) > 2 and lw not in STOP and lw not in OWN_WORDS and not _is_cjk(w[0]):
            seen.setdefault(w.strip("'’-"), None)
    return tuple(seen)


def content_words(text: str) -> list[str]:
    """Folded words of a text without embedding stop words (all words if only stop words)."""
    words = [fold(w) for w in WORD.findall(text)]
    kept = [w for w in words if w and w not in EMBED_STOP]
    return kept or [w for w in words if w]


# ------------------------------------------------------------------ script and language

_SCRIPTS = (  # (language, regex of its script), tested in order
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana: Japanese even when kanji are present
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
)
_LATIN_HINTS = {
    "es": frozenset("el la los las una por para escribe sobre que del cuento poema".split()),
    "fr": frozenset("le la les une des pour écris sur qui est du conte poème".split()),
    "de": frozenset("der die das ein eine und über schreibe ist mit geschichte gedicht".split()),
}


def _is_cjk(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af"


def language(text: str) -> str:
    """The language a prompt is written in, as far as its script (or a few Latin words) tell."""
    for lang, rx in _SCRIPTS:
        if rx.search(text):
            return lang
    words = {fold(w) for w in WORD.findall(text)}
    best, hits = "en", 1
    for lang, hints in _LATIN_HINTS.items():
        n = len(words & hints)
        if n > hits:
            best, hits = lang, n
    return best


# ------------------------------------------------------------------ deterministic choice


def stable_hash(*parts: Any) -> int:
    """A 64-bit hash of JSON-able parts, equal across processes and runs."""
    data = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def mix(h: int, i: int) -> int:
    """A cheap 64-bit mix of a hash and a small integer (splitmix64 finaliser)."""
    z = (h + 0x9E3779B97F4A7C15 * (i + 1)) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)
