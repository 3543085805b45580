"""Chat roles: a student asks, a teacher explains, introduces and sums up.

A role-play demo teaches only if the parts sound different.  The role comes from the system
message ("You are a student."), the move from the command of the turn ("introduce", "ask",
"respond", "summarize"), and the subject from the conversation itself: a student's questions take
up the words of the teacher's last line, a teacher's answer takes up the words of the student's
question, and a summary names what the whole conversation was about.  English role templates;
a prompt in another language gets free text in that language instead (:mod:`bfnb.local.writing`).
"""

from __future__ import annotations

import re
from collections import Counter

from .words import MARKER, WORD, fold, mix, salient

__all__ = ["role_of", "role_turn"]

_STUDENT = re.compile(r"\byou are (?:a |an |the )?(?:\w+ )?(student|pupil|learner|child|apprentice)\b", re.I)
_TEACHER = re.compile(r"\byou are (?:a |an |the )?(?:\w+ )?(teacher|tutor|professor|instructor|mentor|guide)\b", re.I)
_SPEAKER = re.compile(r"^\s*[A-Z][\w -]{0,30}:\s*", re.M)

_QUESTIONS = (
    "What does {A} have to do with {B}?",
    "Why does {A} matter so much here?",
    "How did {A} lead to {B}?",
    "Could you explain {A} once more?",
    "Who was behind {A}, and what happened to {B}?",
    "Is {A} the same thing as {B}?",
)
_INTRO = (
    "Today we look at {A}. It is a story about {B}, and it explains how things came to be.",
    "Let us begin with {A}. The story centres on {B}; keep it in mind as we go.",
)
_EXPLAIN = (
    "Good question. {A} matters because it sets everything else in motion, {B} included.",
    "Think of {A} as the cause and {B} as the result: one leads to the other.",
    "{A} is the key here. Without it, {B} would make no sense.",
    "The short answer: {A} connects to {B} through the choices the characters make.",
)
_SUMMARY = "To sum up: we talked about {items}. The main point is that {A} shapes {B}."


def role_of(system_text: str) -> str | None:
    """``"student"``, ``"teacher"`` or None, from a system message."""
    if _STUDENT.search(system_text):
        return "student"
    if _TEACHER.search(system_text):
        return "teacher"
    return None


_OWN = frozenset(fold(w) for t in (*_QUESTIONS, *_INTRO, *_EXPLAIN, _SUMMARY, "the story") for w in WORD.findall(t))
_TITLED = re.compile(r"\b(?:titled|called|named|about)\s+(.+?)[.?!]?\s*$", re.I)


def _words(text: str) -> tuple[str, ...]:
    """Content words of what was said, without speaker names or the templates' own words."""
    return tuple(w for w in salient(_SPEAKER.sub(" ", text)) if fold(w) not in _OWN)


def _last_line(ask: str) -> tuple[str, str]:
    """(what the other speaker last said, the command of this turn) from the last user message."""
    parts = [p for p in re.split(r"\n\s*\n", ask.strip()) if p.strip()]
    if len(parts) < 2:
        return "", ask
    return "\n\n".join(parts[:-1]), parts[-1]


def _pick(
    pool: tuple[str, ...], words: tuple[str, ...], h: int, i: int, avoid: int = -1, more: tuple[str, ...] = ()
) -> tuple[str, int]:
    """A sentence of ``pool`` (not the one at ``avoid``) about two of ``words`` (the second may come
    from ``more``, the rest of the conversation); and its index."""
    a = words[mix(h, i) % len(words)] if words else "this"
    rest = [w for w in words if w != a] or [w for w in more if fold(w) != fold(a)]
    b = rest[mix(h, i + 1) % len(rest)] if rest else "the story"
    k = mix(h, i + 2) % len(pool)
    if k == avoid:
        k = (k + 1) % len(pool)
    return pool[k].format(A=a, B=b), k


def role_turn(role: str, ask: str, history: str, h: int) -> str:
    """One turn of ``role`` given the last user message ``ask`` and the earlier ``history``."""
    heard, command = _last_line(ask)
    cmd = command.lower()
    recent = _words(heard) or _words(history.split("\n")[-1] if history else "") or _words(command)
    everything = _words(history + "\n" + heard) or _words(command)
    if role == "student":
        words = recent or everything
        first, k = _pick(_QUESTIONS, words, h, 0, more=everything)
        second, _ = _pick(_QUESTIONS, words, h, 3, avoid=k, more=everything)  # never the same question twice
        body = first if h % 2 else f"{first} {second}"
    elif "summar" in cmd or "sum up" in cmd or "wrap up" in cmd:
        counts = Counter(fold(w) for w in _words(history + "\n" + heard))
        top = [w for w, _ in counts.most_common(4)] or list(everything[:3])
        names = {fold(w): w for w in everything}
        items = [names.get(w, w) for w in top] or ["the story"]
        listed = ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]
        body = _SUMMARY.format(items=listed, A=items[0], B=items[-1] if len(items) > 1 else "what follows")
    elif "introduc" in cmd or not history:
        words = _words(command) or everything
        if m := _TITLED.search(command):  # "introduce the text titled X": X is the subject, its words the focus
            title = m.group(1).strip()
            focus = _words(title) or words
            body = _INTRO[h % len(_INTRO)].format(A=title, B=focus[mix(h, 1) % len(focus)] if focus else "it")
        else:
            body, _ = _pick(_INTRO, words, h, 0)
    else:
        body, _ = _pick(_EXPLAIN, recent or everything, h, 0, more=everything)
    return body + "\n" + MARKER
