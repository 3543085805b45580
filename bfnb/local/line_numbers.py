"""Number answers: "how many", "answer with a number", and line numbers over numbered text.

The text-segmentation recipe numbers the lines of a text ("12: The Fox and the Grapes") and asks
for the lines where sections start.  The local model reads the numbered lines and answers with
plausible ones: title-like lines (short, capitalised, no closing punctuation) when the question is
about titles, headings or where sections start; lines that share the question's content words when
it names something; otherwise a few of the numbers in the prompt, always including the first.
"""

from __future__ import annotations

import re

from .words import STOP, WORD, fold, mix

__all__ = ["numbers_answer"]

_LINE_NUMBERS = re.compile(r"\b(line numbers?|numbers? of the lines?|which lines?|indices|indexes)\b", re.I)
_ANSWER_NUMBERS = re.compile(
    r"\b(answer|respond|reply|return|output|give|list)\b[^.?!\n]{0,25}\b(numbers|integers|an? (number|integer))\b",
    re.I,
)
_CREATIVE = re.compile(r"\b(poem|poetry|story|stories|essay|haiku|song|verse|tale)s?\b", re.I)
_HOW_MANY = re.compile(r"\bhow many\b", re.I)
_COMMAS = re.compile(r"\bcomma", re.I)
_PER_LINE = re.compile(r"one per line|newline", re.I)
_INT = re.compile(r"(?<![\w.])\d{1,7}(?![\w.]|\.\d)")
_NUMBERED = re.compile(r"^[ \t]*(\d{1,7})[:.)][ \t]+(.*\S)[ \t]*$", re.M)
_ABOUT_STARTS = re.compile(
    r"\b(titles?|headings?|headers?|starts?|starting|begins?|beginning|new section|sections?)\b", re.I
)
_NUMBER_HINTS = ("number", "integer", "line", "indices", "indexes", "how many")
_QUESTION_NOISE = frozenset(
    "line lines number numbers separated spaces space commas nothing else numbered below each where "
    "start starts section sections title titles heading headings".split()
)


def looks_like_title(line: str) -> bool:
    """Short, starts upper case, most long words capitalised, no closing punctuation."""
    words = WORD.findall(line)
    if not 1 <= len(words) <= 10 or len(line) > 70 or line[-1] in ".,;:!?\"'”’)-":
        return False
    if not line[0].isupper() or (line.isupper() and len(words) > 1):
        return False
    long = [w for w in words if len(w) >= 4]
    return not long or sum(w[0].isupper() for w in long) / len(long) >= 0.6


def _numbered_lines(text: str) -> list[tuple[int, str]]:
    return [(int(n), body) for n, body in _NUMBERED.findall(text)]


def _picked_lines(question: str, lines: list[tuple[int, str]]) -> list[int]:
    if _ABOUT_STARTS.search(question):
        titles = [n for n, body in lines if looks_like_title(body)]
        if titles:
            return titles
    wanted = {fold(w) for w in WORD.findall(question)} - STOP - _QUESTION_NOISE
    if wanted:
        named = [n for n, body in lines if wanted & {fold(w) for w in WORD.findall(body)}]
        if named and len(named) < len(lines):
            return named
    return []


def numbers_answer(ask: str, context: str, h: int) -> str | None:
    """A few plausible integers drawn from the prompt, if the prompt asks for numbers."""
    low = ask.lower()
    if not any(hint in low for hint in _NUMBER_HINTS):  # cheap test before the regexes
        return None
    creative = _CREATIVE.search(ask)
    how_many = not creative and _HOW_MANY.search(ask)
    if not (how_many or _LINE_NUMBERS.search(ask) or (not creative and _ANSWER_NUMBERS.search(ask))):
        return None
    sep = ", " if _COMMAS.search(ask) else ("\n" if _PER_LINE.search(ask) else " ")
    lines = _numbered_lines(ask) or _numbered_lines(context)
    if lines and not how_many:
        question = "\n".join(ln for ln in ask.splitlines() if not _NUMBERED.match(ln))
        picks = _picked_lines(question, lines)
        if picks:
            return sep.join(str(x) for x in sorted(set(picks)))
    found = sorted({int(x) for x in _INT.findall(ask + "\n" + context)})
    if how_many or not found:
        return str(1 + h % 9)
    k = min(len(found), 2 + h % 3 + len(found) // 40)
    rest = found[1:]
    chosen = {found[0]}
    for step in range(k - 1):
        if rest:
            chosen.add(rest[mix(h, step) % len(rest)])
    return sep.join(str(x) for x in sorted(chosen))
