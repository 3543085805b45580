"""Scores for prompt versions: accuracy with a 95% interval, a confusion table, a paired test.

Kept free of pandas displays and of graphs so that every figure a comparison shows can be checked
by hand.  Why these statistics:

* **Wilson score interval** for a proportion: unlike the textbook ``p ± 1.96·sqrt(p(1-p)/n)`` it
  stays inside [0, 1] and is honest for the small samples a notebook scores (20–200 rows) and for
  accuracies near 0 or 1.
* **McNemar's exact test** for two versions scored on the same rows: only the rows where exactly one
  version is right carry information, and under "no difference" each of them is a fair coin, so the
  two-sided p-value is a binomial tail.  Comparing two accuracies as if they were independent would
  ignore the pairing and be far less sensitive.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["Paired", "Score", "confusion", "mcnemar_exact", "normalize_label", "score", "verdict", "wilson"]

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (95% by default) for ``k`` successes out of ``n``; (nan, nan) if n=0."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exact at the ends (no rounding to 0.99999…)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    ``b``: rows only the first version gets right; ``c``: rows only the second gets right.
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


def normalize_label(value: Any) -> Any:
    """How answers are matched to truth by default: case-folded, trimmed of spaces and punctuation.

    ``"Positive."`` and ``" positive"`` both match ``"positive"``; non-text values are kept.
    """
    if isinstance(value, str):
        return _PUNCT.sub("", unicodedata.normalize("NFKC", value).strip()).casefold()
    return value


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


@dataclass(frozen=True)
class Score:
    """One version's score: ``correct`` of ``n`` scored rows, with the 95% interval."""

    name: str  # "accuracy" (against truth) or "agreement" (with a judge)
    correct: int
    n: int
    failed: int  # scored rows whose answer is missing (failed or pending): counted as wrong

    @property
    def value(self) -> float:
        return self.correct / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.correct, self.n)

    def text(self) -> str:
        if not self.n:
            return "no rows to score"
        lo, hi = self.interval
        return f"{self.value:.0%} ({self.correct}/{self.n}, 95% CI {lo:.0%}–{hi:.0%})"


@dataclass(frozen=True)
class Paired:
    """Two versions on the same rows: who is right where the other is wrong, and McNemar's p."""

    a: str
    b: str
    only_a: int
    only_b: int
    n: int

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.only_a, self.only_b)

    def text(self) -> str:
        better = self.b if self.only_b > self.only_a else self.a if self.only_a > self.only_b else None
        lead = f"{self.a} vs {self.b}: {self.only_a} right only in {self.a}, {self.only_b} only in {self.b}"
        p = self.p_value
        if better is None:
            return f"{lead}; no difference (McNemar exact p = {p:.2g})"
        sig = "a real difference" if p < 0.05 else "could be chance"
        return f"{lead}; {better} better, {sig} (McNemar exact p = {p:.2g})"


def correct_mask(
    answers: pd.Series, truth: pd.Series, normalize: Callable[[Any], Any] | None = normalize_label
) -> tuple[pd.Series, pd.Series]:
    """(scored, correct) boolean Series over ``answers``' index: scored where truth is known."""
    t = truth.reindex(answers.index)
    norm = normalize or (lambda v: v)
    scored = pd.Series([not _missing(v) for v in t.tolist()], index=answers.index, dtype=bool)
    right = [
        s and not _missing(a) and norm(a) == norm(v)
        for a, v, s in zip(answers.tolist(), t.tolist(), scored.tolist(), strict=True)
    ]
    return scored, pd.Series(right, index=answers.index, dtype=bool)


def score(name: str, answers: pd.Series, correct: pd.Series, scored: pd.Series) -> Score:
    """A :class:`Score` from aligned boolean Series (missing answers in scored rows are failures)."""
    n = int(scored.sum())
    failed = int(sum(1 for a, s in zip(answers.tolist(), scored.tolist(), strict=True) if s and _missing(a)))
    return Score(name, int((correct & scored).sum()), n, failed)


def paired(a: str, b: str, correct_a: pd.Series, correct_b: pd.Series, scored: pd.Series) -> Paired:
    """Paired counts over the rows both versions were scored on."""
    ca, cb = correct_a[scored], correct_b.reindex(correct_a.index)[scored]
    return Paired(a, b, int((ca & ~cb).sum()), int((~ca & cb).sum()), int(scored.sum()))


def confusion(
    answers: pd.Series, truth: pd.Series, normalize: Callable[[Any], Any] | None = normalize_label
) -> pd.DataFrame:
    """Counts of truth (rows) × answer (columns); a missing answer shows as ``(none)``."""
    norm = normalize or (lambda v: v)
    t = truth.reindex(answers.index)
    keep = [not _missing(v) for v in t.tolist()]
    tv = [str(norm(v)) for v, k in zip(t.tolist(), keep, strict=True) if k]
    av = ["(none)" if _missing(a) else str(norm(a)) for a, k in zip(answers.tolist(), keep, strict=True) if k]
    if not tv:
        return pd.DataFrame()
    table = pd.crosstab(pd.Series(tv, name="truth"), pd.Series(av, name="answer"))
    labels = sorted(set(table.index) | set(table.columns), key=lambda s: (s == "(none)", s))
    return table.reindex(index=[x for x in labels if x in set(tv)], columns=labels, fill_value=0)


_YES = re.compile(r"^\W*(yes|y|true|correct|right|pass|agree|1)\b", re.IGNORECASE)


def verdict(value: Any) -> bool | None:
    """A judge's answer as True/False: a bool, a number ≥ 0.5, or text starting with yes/correct/pass…

    None when the judge gave no answer (a failed or pending call).
    """
    if _missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value) >= 0.5
    if isinstance(value, dict):
        for key in ("verdict", "correct", "agree", "score", "label"):
            if key in value:
                return verdict(value[key])
        return None
    return bool(_YES.match(str(value).replace("(local model)", "").strip()))


def judged(values: Sequence[Any], index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """(scored, correct) from a judge's answers: every row is scored; no verdict counts as wrong."""
    v = [verdict(x) for x in values]
    return pd.Series(True, index=index, dtype=bool), pd.Series([x is True for x in v], index=index, dtype=bool)
