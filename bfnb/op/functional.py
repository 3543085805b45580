r"""Small text helpers for ``MapField``: ``import bfnb.op.functional as F``.

These keep batchfactory's names, signatures and results (``F.lines``, ``F.label_texts``,
``F.group_texts_by_length``, ``F.text_to_integer_list``, ...) so that its recipes run unchanged.
They depart from it only where it had a bug (each departure is listed in the README):

* ``group_texts_by_length`` and ``partition_list_by_labels`` of an empty list are ``[]`` (the seed
  gave ``[[]]``: one empty chunk, sent to the model as an empty prompt); a ``chunk_length`` below 1
  is an error.
* ``flatten_list`` flattens one level and keeps non-list items (the seed split a str into letters
  and raised on a number).
* ``remove_markup_header`` removes heading markers only (``#`` then a space), not the ``#`` of a
  ``#hashtag`` nor the blank lines after a bare ``#``.
* ``remove_speaker_tag`` strips ``Name:`` only when Name looks like a speaker (1-3 capitalised
  words, or any word before a full-width ``：``), never a label such as ``Note:`` or a URL scheme.
* ``split_cot`` also handles an unclosed ``<think>`` (a truncated answer: everything is thought).
* ``text_to_integer_list`` extracts every integer instead of raising on punctuation
  (``"3, 17 and 42."``); on the seed's valid input (integers separated by spaces) it is the same.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "create_children_map",
    "create_parent_map_by_labels",
    "discard_after",
    "flatten_list",
    "get_first_regex_match",
    "group_texts_by_length",
    "join_texts",
    "label_and_chunk_texts",
    "label_multiline_texts",
    "label_texts",
    "lines",
    "partition_list_by_labels",
    "postprocess_labels",
    "remove_cot",
    "remove_markup_header",
    "remove_speaker_tag",
    "split_cot",
    "text_to_integer_list",
]


# ------------------------------------------------------------------------------ text chunking


def lines(text: str, *, non_empty: bool = True, strip: bool = False) -> list[str]:
    r"""Split text into lines; strip each (``strip``), then drop empty ones (``non_empty``).

    As in the seed, a line of spaces is empty only once stripped.

    >>> lines("a\n\n b \n")
    ['a', ' b ']
    >>> lines("a\n  \n b ", strip=True)
    ['a', 'b']
    """
    out = text.splitlines()
    if strip:
        out = [ln.strip() for ln in out]
    if non_empty:
        out = [ln for ln in out if ln]
    return out


def label_texts(texts: Sequence[str], *, offset: int = 1) -> list[str]:
    r"""Number each text: ``"1: first"``, ``"2: second"``, ...

    >>> label_texts(["a", "b"])
    ['1: a', '2: b']
    """
    return [f"{i}: {t}" for i, t in enumerate(texts, offset)]


def label_multiline_texts(texts: Sequence[str], *, offset: int = 1) -> list[str]:
    r"""Number each multi-line text on a line of its own, followed by a blank line (as the seed).

    >>> label_multiline_texts(["a\nb", "c"])
    ['1:\na\nb\n\n', '2:\nc\n\n']
    """
    return [f"{i}:\n{t}\n\n" for i, t in enumerate(texts, offset)]


def group_texts_by_length(texts: Sequence[str], *, chunk_length: int, separator: str = "\n") -> list[list[str]]:
    r"""Group consecutive texts greedily; each text counts its length plus one separator (as the seed).

    So a group joined with ``separator`` and ending in one fits in ``chunk_length``. A text
    longer than ``chunk_length`` is a group of its own; no group is ever empty.

    >>> group_texts_by_length(["aaa", "bb", "c", "dddddd"], chunk_length=7)
    [['aaa', 'bb'], ['c'], ['dddddd']]
    """
    if chunk_length <= 0:
        raise ValueError(f"chunk_length must be positive, got {chunk_length}")
    groups: list[list[str]] = []
    size = 0
    step = len(separator)
    for t in texts:
        if groups and size + len(t) + step <= chunk_length:
            groups[-1].append(t)
            size += len(t) + step
        else:
            groups.append([t])
            size = len(t) + step
    return groups


def partition_list_by_labels(lst: Sequence[Any], labels: Iterable[int], *, offset: int = 1) -> list[list[Any]]:
    r"""Split ``lst`` into groups, starting a new group at each labelled position.

    Labels count from ``offset`` (1: the first item is label 1). The first item always opens
    the first group; labels out of range are ignored.

    >>> partition_list_by_labels(["a", "b", "c", "d"], [1, 3])
    [['a', 'b'], ['c', 'd']]
    """
    starts = set(labels)
    groups: list[list[Any]] = []
    for i, item in enumerate(lst, offset):
        if not groups or i in starts:
            groups.append([])
        groups[-1].append(item)
    return groups


def create_parent_map_by_labels(labels: Iterable[int], total_num: int, *, offset: int = 1) -> dict[int, int]:
    r"""Map each item's label to the label of its group (as :func:`partition_list_by_labels`).

    >>> create_parent_map_by_labels([3], 4)
    {1: 1, 2: 1, 3: 2, 4: 2}
    """
    starts = set(labels)
    parent = offset - 1
    out = {}
    for i in range(offset, offset + total_num):
        if i == offset or i in starts:
            parent += 1
        out[i] = parent
    return out


def create_children_map(parent_map: dict[int, int]) -> dict[int, list[int]]:
    r"""Invert a parent map: each parent's children, in order.

    >>> create_children_map({1: 1, 2: 1, 3: 2})
    {1: [1, 2], 2: [3]}
    """
    out: dict[int, list[int]] = {}
    for child in sorted(parent_map):
        out.setdefault(parent_map[child], []).append(child)
    return out


def join_texts(texts: Iterable[str], *, separator: str = "\n") -> str:
    r"""Join texts with ``separator``.

    >>> join_texts(["a", "b"], separator=" | ")
    'a | b'
    """
    return separator.join(texts)


def flatten_list(lst: Iterable[Any]) -> list[Any]:
    r"""Flatten one level: list and tuple items are expanded, other items kept as they are.

    >>> flatten_list([[1, 2], [], (3,), 4, "ab"])
    [1, 2, 3, 4, 'ab']
    """
    return list(itertools.chain.from_iterable(x if isinstance(x, list | tuple) else (x,) for x in lst))


def label_and_chunk_texts(texts: Sequence[str], chunk_length: int, multiline: bool = False) -> list[str]:
    r"""Number the texts, then pack them into chunks of about ``chunk_length`` characters.

    Multiline texts are numbered on their own line and end with a blank line (as the seed).

    >>> label_and_chunk_texts(["alpha", "beta", "gamma"], 18)
    ['1: alpha\n2: beta', '3: gamma']
    """
    labelled = label_multiline_texts(texts) if multiline else label_texts(texts)
    groups = group_texts_by_length(labelled, chunk_length=chunk_length)
    return [join_texts(g) for g in groups]


def postprocess_labels(labels: Iterable[Any], texts: Sequence[str]) -> tuple[list[str], dict[int, int]]:
    r"""Regroup ``texts`` at the labelled starts; returns ``(new_texts, parent_map)``.

    ``labels`` is what an LLM returned per chunk (a list of lists of 1-based positions, or one
    flat list). Each new text joins its group's texts with a blank line.

    >>> postprocess_labels([[1, 3], [4]], ["a", "b", "c", "d"])
    (['a\n\nb', 'c', 'd'], {1: 1, 2: 1, 3: 2, 4: 3})
    """
    flat = flatten_list(labels)
    groups = partition_list_by_labels(texts, flat)
    return [join_texts(g, separator="\n\n") for g in groups], create_parent_map_by_labels(flat, len(texts))


_HEADER_MARK = re.compile(r"^ {0,3}#+(?:[ \t]+|$)", re.MULTILINE)


def remove_markup_header(text: str) -> str:
    r"""Remove markdown heading markers (``# ``), keeping the heading text and the line breaks.

    >>> remove_markup_header("## Title\n\n#hashtag stays")
    'Title\n\n#hashtag stays'
    """
    return _HEADER_MARK.sub("", text)


# -------------------------------------------------------------------------------- LLM strings


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regex(regex: str | re.Pattern[str]) -> re.Pattern[str]:
    return regex if isinstance(regex, re.Pattern) else _compile(regex)


# Words that end in ":" at the start of a line without naming a speaker.
_NOT_SPEAKERS = frozenset(
    """note notes nb ps p.s tip hint warning caution important update edit summary answer
    question example examples output input result results response reply step title source
    sources reference references translation context task solution explanation reason reasoning
    conclusion disclaimer tl;dr tldr q a time date location setting scene name
    注意 注 备注 提示 答案 答 问题 问 总结 说明 警告 例如 翻译 结果""".split()
)
_NAME = r"[A-Z][\w'.\-]*(?:[ ][A-Z][\w'.\-]*){0,2}"
_SPEAKER = re.compile(
    # Name:  **Name**:  **Name:**  (not a URL scheme)
    rf"^\s*(?:\*\*|__)?(?P<a>{_NAME})(?::(?:\*\*|__)|(?:\*\*|__)?:)(?!//)\s*"
    r"|^\s*(?:\*\*|__)?(?P<b>[^\s:：*_]{1,20}(?:[ ][^\s:：*_]{1,20}){0,2})(?:\*\*|__)?：\s*"
)


def remove_speaker_tag(line: str) -> str:
    r"""Strip a leading speaker tag: ``Name:``, ``**Name**:``, ``**Name:**`` or ``名字：``.

    A tag is only stripped when the name is 1-3 capitalised words (any word before a
    full-width ``：``) and is not a common label such as ``Note``, ``Answer`` or ``Step``.

    >>> remove_speaker_tag("**Teacher**: Welcome back.")
    'Welcome back.'
    >>> remove_speaker_tag("Note: this stays.")
    'Note: this stays.'
    """
    m = _SPEAKER.match(line)
    if not m:
        return line
    name = m.group("a") or m.group("b")
    if name.lower().strip(".") in _NOT_SPEAKERS:
        return line
    return line[m.end() :]


def split_cot(text: str) -> tuple[str, str]:
    r"""Split a reasoning model's answer into ``(text, cot)`` at ``</think>``.

    An unclosed ``<think>`` (the answer was cut off while thinking) is all thought.

    >>> split_cot("<think>hmm</think>\n\nYes.")
    ('Yes.', 'hmm')
    >>> split_cot("plain")
    ('plain', '')
    """
    if "</think>" in text:
        cot, answer = text.split("</think>", 1)
        cot = cot.strip()
        if cot.startswith("<think>"):
            cot = cot[len("<think>") :]
        return answer.lstrip(), cot.strip()
    stripped = text.lstrip()
    if stripped.startswith("<think>"):
        return "", stripped[len("<think>") :].strip()
    return text, ""


def remove_cot(text: str) -> str:
    r"""The answer without its chain of thought.

    >>> remove_cot("<think>hmm</think>Yes.")
    'Yes.'
    """
    return split_cot(text)[0]


_INTEGER = re.compile(r"(?<!\w)-?\d+|\d+")


def text_to_integer_list(text: str) -> list[int]:
    r"""Every integer in the text, in order; ``[]`` when there is none.

    A minus sign counts only when it does not follow a word (``1-3`` is 1 and 3).

    >>> text_to_integer_list("Lines: [3, 17, 42] and -1")
    [3, 17, 42, -1]
    >>> text_to_integer_list("none")
    []
    """
    return [int(t) for t in _INTEGER.findall(text)]


def discard_after(text: str, regex: str | re.Pattern[str]) -> str:
    r"""The text before the first match of ``regex`` (all of it when there is no match).

    >>> discard_after("answer\n---\nnotes", r"\n-{3,}")
    'answer'
    """
    m = _regex(regex).search(text)
    return text[: m.start()] if m else text


def get_first_regex_match(text: str, regex: str | re.Pattern[str], default: Any = "") -> Any:
    r"""The first match of ``regex`` in the text, or ``default``.

    >>> get_first_regex_match("score: 7/10", r"\d+")
    '7'
    """
    m = _regex(regex).search(text)
    return m.group(0) if m else default
