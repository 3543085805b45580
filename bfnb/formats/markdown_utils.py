r"""The seed's markdown helpers, with its names, signatures and results (published as ``bf.markdown``).

batchfactory users call ``batchfactory.lib.markdown_utils`` directly: heading detection, fences,
escaping, and reading or writing ``(headings, text)`` pairs from and to a file. This module keeps
those functions as they were so that such code (and batchfactory's own tests of them) runs
unchanged. bfnb's ops read markdown through :mod:`bfnb.formats.markdown`, which also keeps line
numbers and works on text; this module is the seed-shaped face.

Where the seed had a bug, this module departs from it (each departure is listed in the README):

1. Reading is fence-aware in ``iter_markdown_lines`` too (the seed read ``# comment`` inside a
   code fence as a heading there), and a fence closes only on a fence of the same character, at
   least as long, with no info string (the seed toggled on any fence line).
2. Reading removes the one backslash that writing put before a heading-like line (the seed wrote
   ``\# x`` and read ``\# x`` back, so ``write -> read`` changed the text); escaping adds one more
   backslash to a line that already starts with an escaped heading, so the round trip is exact.
3. ``write_markdown_lines`` escapes a line that would read as a heading (the seed wrote it as is,
   turning a keyword such as ``# 1`` into a heading).
4. Closing an unclosed fence starts the closing fence on its own line even when the text does not
   end with a newline.
5. Files are written atomically (temporary file + rename) and their folder is created.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from .atomic import atomic_write

__all__ = [
    "build_sort_key_from_headings",
    "build_sort_key_from_text",
    "detect_code_fence",
    "detect_markdown_heading_line",
    "escape_markdown_heading_line",
    "escape_markdown_headings",
    "generate_markdown_heading_lines",
    "iter_markdown_entries",
    "iter_markdown_lines",
    "update_markdown_headings",
    "write_markdown_entries",
    "write_markdown_lines",
]

_HEADING = re.compile(r"^([ ]{0,3})(#+)([ \t]+)(.*)$")  # indent, hashes, spacing, remaining
_FENCE = re.compile(r"^([ ]{0,3}`{3,}|[ ]{0,3}~{3,})(.*)$")  # fence style, language
_ESCAPED = re.compile(r"^([ ]{0,3})\\(\\*#+[ \t])")  # a heading-like line behind its escape(s)
_FIRST_INT = re.compile(r"(\d+)")


def detect_markdown_heading_line(line: str) -> tuple[bool, int, str]:
    """``(is_heading, level, heading)``: up to 3 spaces, any number of ``#``, a space, the text.

    >>> detect_markdown_heading_line("  ## Two")
    (True, 2, 'Two')
    """
    m = _HEADING.match(line)
    if not m:
        return False, 0, ""
    _, hashes, _, remaining = m.groups()
    return True, len(hashes), (remaining or "").strip()


def escape_markdown_heading_line(line: str) -> tuple[bool, str]:
    r"""``(is_heading, escaped_line)``: a heading line gets a backslash before its ``#``.

    >>> escape_markdown_heading_line("# Title")
    (True, '\\# Title')
    """
    m = _HEADING.match(line)
    if not m:
        return False, line
    indent, hashes, spacing, remaining = m.groups()
    return True, f"{indent}\\{hashes}{spacing}{remaining or ''}"


def detect_code_fence(line: str) -> tuple[bool, str, str]:
    """``(is_fence, fence_style, language)``; the style keeps its indent (``"  ~~~"``).

    >>> detect_code_fence("```python")
    (True, '```', 'python')
    """
    m = _FENCE.match(line)
    if not m:
        return False, "", ""
    style, language = m.groups()
    return True, style, language.strip()


def _closes(line: str, opener: str) -> bool:
    """Whether ``line`` closes a fence opened by ``opener``: same character, as long or longer, no info."""
    ok, style, language = detect_code_fence(line)
    mark, open_mark = style.strip(), opener.strip()
    return ok and not language and mark[0] == open_mark[0] and len(mark) >= len(open_mark)


def update_markdown_headings(previous_headings: list[str], line: str, default: str = "") -> tuple[bool, list[str]]:
    """``(is_heading, headings)``: the heading path after ``line`` (a skipped level is ``default``).

    >>> update_markdown_headings(["A", "B"], "# C")
    (True, ['C'])
    """
    is_heading, level, heading = detect_markdown_heading_line(line)
    if not is_heading:
        return False, previous_headings.copy()
    base = previous_headings[: level - 1]
    return True, base + [default] * max(0, level - len(base) - 1) + [heading]


def escape_markdown_headings(text: str, fix_unclosed_code_fence: bool = True) -> str:
    r"""Escape the heading lines of ``text`` outside code fences.

    An unclosed fence is closed (``fix_unclosed_code_fence``) or is a ``ValueError``.

    >>> escape_markdown_headings("# a\n```\n# code\n```\n")
    '\\# a\n```\n# code\n```\n'
    """
    fence = ""
    out: list[str] = []
    for raw in text.splitlines(keepends=True):
        nl = "\n" if raw.endswith("\n") else ""
        line = raw.rstrip("\r\n")
        is_fence, style, _ = detect_code_fence(line)
        if fence:
            if is_fence and _closes(line, fence):
                fence = ""
        elif is_fence:
            fence = style
        else:
            line = _escape_line(line)
        out.append(line + nl)
    if fence:
        if not fix_unclosed_code_fence:
            raise ValueError("Unclosed code fence detected in text.")
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append(f"{fence}\n")
    return "".join(out)


def _escape_line(line: str) -> str:
    if _ESCAPED.match(line):  # already escaped: one more backslash, as reading removes one
        return _ESCAPED.sub(r"\1\\\\\2", line, count=1)
    return escape_markdown_heading_line(line)[1]


def _unescape(line: str) -> str:
    return _ESCAPED.sub(r"\1\2", line, count=1)


def generate_markdown_heading_lines(headings: list[str], previous_headings: list[str] | None = None) -> list[str]:
    """The heading lines that lead from ``previous_headings`` to ``headings`` (always at least one).

    >>> generate_markdown_heading_lines(["A", "B"], ["A", "C"])
    ['## B\\n']
    """
    previous = previous_headings or []
    changed = False
    lines = []
    for level, heading in enumerate(headings, start=1):
        if changed or level > len(previous) or heading != previous[level - 1]:
            lines.append(f"{'#' * level} {heading}\n")
            changed = True
    if not changed:
        if headings:
            lines.append(f"{'#' * len(headings)} {headings[-1]}\n")
        elif previous:
            raise ValueError("Entry with no headings can only be written at the beginning of a file.")
    return lines


def _lines(path: str | os.PathLike[str]) -> Iterator[tuple[str, str, bool]]:
    """``(raw, line, in_fence)`` for each line of a UTF-8 file; fence lines count as in the fence."""
    fence = ""
    with Path(path).open("r", encoding="utf-8-sig") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if fence:
                if _closes(line, fence):
                    fence = ""
                yield raw, line, True
                continue
            is_fence, style, _ = detect_code_fence(line)
            if is_fence:
                fence = style
            yield raw, line, is_fence


def iter_markdown_lines(path: str | Path) -> Iterator[tuple[list[str], str]]:
    """Yield ``(headings, keyword)`` for every non-empty line that is not a heading (stripped)."""
    headings: list[str] = []
    for _, line, in_fence in _lines(path):
        if not in_fence:
            is_heading, new = update_markdown_headings(headings, line)
            if is_heading:
                headings = new
                continue
            line = _unescape(line)
        keyword = line.strip()
        if keyword:
            yield headings.copy(), keyword


def write_markdown_lines(path: str | Path, entries: list[tuple[list[str], str]]) -> None:
    """Write ``(headings, keyword)`` pairs as lines under their headings; keywords must not be empty."""
    out: list[str] = []
    previous: list[str] = []
    for headings, keyword in entries:
        hs = [h.strip() for h in headings]
        keyword = keyword.strip()
        if not keyword:
            raise ValueError("Keyword must not be empty.")
        out += generate_markdown_heading_lines(hs, previous)
        out.append(_escape_line(keyword) + "\n")
        previous = hs
    atomic_write(path, "".join(out))


def iter_markdown_entries(path: str | Path) -> Iterator[tuple[list[str], str]]:
    """Yield ``(headings, text)`` for every section, text unstripped (root text too, when not empty)."""
    headings: list[str] = []
    text = ""
    for raw, line, in_fence in _lines(path):
        if in_fence:
            text += raw
            continue
        is_heading, new = update_markdown_headings(headings, line)
        if is_heading:
            if headings or text:
                yield headings.copy(), text
            headings, text = new, ""
        else:
            text += _unescape(raw)
    yield headings.copy(), text


def write_markdown_entries(path: str | Path, entries: list[tuple[list[str], str]]) -> None:
    """Write ``(headings, text)`` pairs as sections; texts are kept as they are (heading lines escaped)."""
    out: list[str] = []
    previous: list[str] = []
    for headings, text in entries:
        hs = [h.strip() for h in headings]
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        out += generate_markdown_heading_lines(hs, previous)
        escaped = escape_markdown_headings(text)
        out.append(escaped if escaped.endswith("\n") else escaped + "\n")
        previous = hs
    atomic_write(path, "".join(out))


def build_sort_key_from_text(s: str) -> tuple[int, str]:
    """``(first integer in s or 0, s)``: ``Chapter 2`` sorts before ``Chapter 10``."""
    m = _FIRST_INT.search(s)
    return (int(m.group(1)) if m else 0, s)


def build_sort_key_from_headings(headings: list[str]) -> list[tuple[int, str]]:
    """A sort key for heading paths: :func:`build_sort_key_from_text` of each heading."""
    return [build_sort_key_from_text(h) for h in headings]
