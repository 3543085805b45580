"""Free text: short verse or prose about the prompt's words, in the prompt's language.

The local model is not a writer; its text only has to behave like an answer: about the prompt's
subject (its content words appear, each of the first few at least once), of the kind asked for
(verse for a poem, haiku or limerick; prose for a story or anything else), in the prompt's script
and language (a Chinese prompt gets Chinese), different for a different request and the same for
the same one.  Every text ends with the "(local model)" marker so nobody takes it for a real answer.
"""

from __future__ import annotations

import re

from .words import MARKER, mix

__all__ = ["VERBS", "free_text", "topic_words"]

_NOUNS = (
    "light", "river", "morning", "stone", "wind", "harbor", "shadow", "garden", "ember", "tide",
    "lantern", "meadow", "echo", "thread", "mountain", "candle", "orchard", "voice", "rain", "horizon",
)  # fmt: skip
_ADJS = ("quiet", "silver", "old", "bright", "distant", "gentle", "restless", "golden", "hidden", "patient",
         "wild", "small")  # fmt: skip
VERBS = ("remembers", "carries", "gathers", "whispers", "follows", "keeps", "turns", "wakes", "holds", "mends")
_VERSE = (  # each line uses {A}, so the prompt's words appear in turn
    "{A} beneath the {adj} {noun},",
    "the {adj} {noun} {verb} {A},",
    "and {A} {verb} the {noun} of {B}.",
    "where {A} meets the {adj} {noun},",
    "a {noun} of {A}, {adj} and slow,",
    "{A} {verb} what the {noun} forgot;",
    "still the {adj} {noun} {verb} {A}.",
)
_STORY = (
    "Once, {A} lived beside a {adj} {noun}.",
    "Every morning {A} watched the {noun}, and {B} watched too.",
    "One day {A} and {B} set out across the {adj} {noun}.",
    "The road was long, but {A} kept going.",
    "At the {noun} they found what {B} had lost.",
    "In the end {A} learned that patience {verb} those who wait.",
)
_PROSE = (
    "{A} is best understood together with {B}.",
    "At its heart, {A} is about a {adj} {noun}.",
    "The key point is how {A} shapes {B}.",
    "Most accounts of {A} begin with the {noun}.",
    "Seen from {B}, {A} looks different again.",
)
_VERSE_KINDS = re.compile(r"\b(poem|poetry|haiku|limerick|sonnet|verse|song|rhyme|ode)s?\b", re.I)
_STORY_KINDS = re.compile(r"\b(story|stories|tale|fable|narrative)\b", re.I)

# Other languages: sentences with {A}/{B} slots for the subject, written so that no agreement is needed.
_FOREIGN = {
    "zh": ("很久以前，{A}住在一条安静的小河边。", "每天早上，{A}都会去看远处的山。",
           "有一天，{A}遇到了{B}，他们一起走进了森林。", "路很长，但是{A}没有放弃。",
           "最后，{A}明白了：勇气比力量更重要。"),
    "ja": ("むかしむかし、{A}は静かな川のそばに住んでいました。", "ある日、{A}は{B}に出会いました。",
           "道は長かったけれど、{A}はあきらめませんでした。", "最後に、{A}は勇気の大切さを学びました。"),
    "ko": ("옛날 옛적에 {A} 이야기가 있었습니다.", "어느 날 {A}와 {B}가 함께 숲으로 갔습니다.",
           "길은 멀었지만 {A}는 포기하지 않았습니다.", "마지막에 {A}는 용기가 중요하다는 것을 배웠습니다."),
    "ru": ("Давным-давно жил-был {A}.", "Однажды {A} встретил {B}, и они вместе пошли в лес.",
           "Дорога была долгой, но {A} не сдавался.", "В конце {A} понял, что смелость важнее силы."),
    "el": ("Μια φορά κι έναν καιρό ζούσε ο {A}.", "Μια μέρα ο {A} συνάντησε τον {B}.",
           "Στο τέλος ο {A} έμαθε ότι το θάρρος μετράει."),
    "ar": ("كان يا ما كان، عاش {A} قرب نهر هادئ.", "في يوم من الأيام التقى {A} بـ {B}.",
           "وفي النهاية تعلم {A} أن الشجاعة أهم من القوة."),
    "es": ("Había una vez {A}, junto a un río tranquilo.", "Un día, {A} encontró a {B} en el bosque.",
           "El camino era largo, pero {A} no se rindió.", "Al final, {A} aprendió que el valor importa."),
    "fr": ("Il était une fois {A}, près d'une rivière tranquille.", "Un jour, {A} rencontra {B} dans la forêt.",
           "Le chemin était long, mais {A} ne renonça pas.", "À la fin, {A} comprit que le courage compte."),
    "de": ("Es war einmal {A}, an einem stillen Fluss.", "Eines Tages traf {A} im Wald {B}.",
           "Der Weg war lang, aber {A} gab nicht auf.", "Am Ende lernte {A}, dass Mut zählt."),
}  # fmt: skip
_FOREIGN_DEFAULT = {"zh": "小英雄", "ja": "小さな英雄", "ko": "작은 영웅", "ru": "герой", "el": "ήρωας", "ar": "البطل",
                    "es": "el héroe", "fr": "le héros", "de": "der Held"}  # fmt: skip
_FOREIGN_FRIEND = {"zh": "一位老朋友", "ja": "古い友だち", "ko": "오랜 친구", "ru": "старого друга", "el": "έναν φίλο",
                   "ar": "صديق قديم", "es": "un viejo amigo", "fr": "un vieil ami", "de": "einen alten Freund"}  # fmt: skip
_ABOUT = re.compile(r"\babout (?:the (?:myth|story|tale) of )?((?:(?!\babout\b)[^.?!\n]){2,60}?)\s*(?:[.?!\n]|$)", re.I)
_QUOTED = re.compile(r"[“「『\"]([^”」』\"]{1,60})[”」』\"]")


def topic_words(ask: str, words: tuple[str, ...]) -> tuple[str, ...]:
    """The subject of a prompt in any script: quoted phrases first, then its content words."""
    quoted = tuple(q.strip() for q in _QUOTED.findall(ask) if q.strip())
    return tuple(dict.fromkeys(quoted + words))


def _fill(template: str, words: tuple[str, ...], h: int, i: int, a: str = "", b: str = "") -> str:
    """``template`` with {A}/{B} from ``words`` in turn (or as given) and the rest from the hash."""
    g = mix(h, i)
    n = len(words)
    a = a or (words[(i + h) % n] if n else _NOUNS[(g >> 40) % len(_NOUNS)])
    b = b or (words[(i + 1 + h) % n] if n > 1 else _NOUNS[(g >> 44) % len(_NOUNS)])
    return template.format(
        A=a, B=b, noun=_NOUNS[(g >> 8) % len(_NOUNS)], adj=_ADJS[(g >> 16) % len(_ADJS)],
        verb=VERBS[(g >> 24) % len(VERBS)],
    )  # fmt: skip


def _verse(words: tuple[str, ...], h: int) -> str:
    lines = [_fill(_VERSE[mix(h, i) % len(_VERSE)], words, h, i) for i in range(3 + h % 3)]
    lines[0] = lines[0][0].upper() + lines[0][1:]
    lines[-1] = lines[-1].rstrip(",;") + ("" if lines[-1].endswith(".") else ".")
    return "\n".join(lines)


def _sentences(pool: tuple[str, ...], words: tuple[str, ...], h: int, count: int) -> str:
    start = h % max(1, len(pool) - count + 1)
    out = [_fill(pool[start + i], words, h, i) for i in range(min(count, len(pool)))]
    return " ".join(s[0].upper() + s[1:] for s in out)


def free_text(ask: str, words: tuple[str, ...], lang: str, h: int) -> str:
    """Verse, a story or prose about ``words`` in ``lang``, ending with the marker."""
    if lang in _FOREIGN:
        subject = topic_words(ask, words) or (_FOREIGN_DEFAULT[lang],)
        pool = _FOREIGN[lang]
        sep = "" if lang in ("zh", "ja") else " "
        body = sep.join(s.format(A=subject[0], B=_FOREIGN_FRIEND[lang]) for s in pool[: 3 + h % 2])
        return body + "\n" + MARKER
    if _VERSE_KINDS.search(ask):
        body = _verse(words, h)
    elif _STORY_KINDS.search(ask):
        about = _ABOUT.findall(ask)  # "a story about The Odyssey": the whole title is the hero
        hero = about[-1].strip() if about else (words[0] if words else "a child")
        others = [w for w in words if w not in hero] or ["an old friend"]
        body = " ".join(
            _fill(t, (), h, i, a=hero, b=others[i % len(others)]) for i, t in enumerate(_STORY[: 4 + h % 2])
        )
    else:
        body = _sentences(_PROSE, words, h, 2 + h % 2)
    return body + "\n" + MARKER
