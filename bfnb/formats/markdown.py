r"""Markdown as data: lines and sections keyed by their heading path (``bf.markdown``).

A markdown file is read as a sequence of headings and text, as batchfactory's ``markdown_utils``
reads it. A heading is up to 3 spaces, one or more ``#`` (any number: level 8 is fine), then a
space or the end of the line. Inside code fences (````` ``` ````` or ``~~~``, closed by a fence of
the same character at least as long) nothing is a heading. A section's ``headings`` is the path
of headings above it, its own last; text before the first heading has the path ``[]``; a
skipped level (``#`` then ``###``) is filled with ``""``.

Writing emits only the heading lines that change from one record to the next. A content line that
would read back as a heading or a fence (or that starts with such an escape already) gets one
more leading backslash (``\#``), outside fences, and reading removes exactly one, so that
``write -> read`` gives back the records. Two documented narrowings: lines are read with their
trailing spaces removed (this is how the two spaces of a markdown hard break disappear), and
heading text is stripped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence

from .txt import read_text_file

__all__ = [
    "build_sort_key_from_headings",
    "escape_markdown_headings",
    "iter_markdown_entries",
    "iter_markdown_lines",
    "read_markdown_text",
    "unescape_markdown_headings",
    "write_markdown_entries",
    "write_markdown_lines",
]

_HEADING = re.compile(r"^ {0,3}(#+)(?:[ \t]+(.*?))?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
# A line that reads as a heading or a fence, or already carries such an escape: one more "\".
_ESCAPABLE = re.compile(r"^( {0,3})(\\*(?:#+(?:[ \t]|$)|`{3,}|~{3,}))")
_ESCAPED = re.compile(r"^( {0,3})\\(\\*(?:#+(?:[ \t]|$)|`{3,}|~{3,}))")
_MD_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd", ".txt")
_FIRST_INT = re.compile(r"\d+")


# --------------------------------------------------------------------------------------- reading


def read_markdown_text(path: str | os.PathLike[str]) -> str:
    """A file's text, as UTF-8 (a BOM is dropped); :class:`SourceError` names the bad line."""
    return read_text_file(path)


def _source_text(source: str | os.PathLike[str]) -> str:
    """A path (PathLike, an existing file, or a str ending in .md) is read; other str is text."""
    if isinstance(source, os.PathLike):
        return read_markdown_text(source)
    if not isinstance(source, str):
        raise TypeError(f"expected markdown text or a path, got {type(source).__name__}")
    if "\n" not in source and (
        source.lower().endswith(_MD_SUFFIXES) or (len(source) < 4096 and os.path.isfile(source))
    ):
        return read_markdown_text(source)
    return source


def _split_lines(text: str) -> list[str]:
    # str.splitlines would also split on \x0b, \x1c, \u2028, ...: only \n and \r\n end a line.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _is_closer(line: str, fence: str) -> bool:
    m = _FENCE.match(line)
    return bool(m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip())


def _opener(line: str) -> str | None:
    m = _FENCE.match(line)
    if not m or (m.group(1)[0] == "`" and "`" in m.group(2)):
        return None
    return m.group(1)


def _scan(lines: Sequence[str]) -> Iterator[tuple[int, str, tuple[int, str] | None, bool]]:
    """Yield (index, line, heading, in_fence) for each line; heading is (level, title) or None."""
    fence: str | None = None
    for i, line in enumerate(lines):
        if fence is not None:
            if _is_closer(line, fence):
                fence = None
            yield i, line, None, True
            continue
        opened = _opener(line)
        if opened is not None:
            fence = opened
            yield i, line, None, True
            continue
        m = _HEADING.match(line)
        if m:
            yield i, line, (len(m.group(1)), (m.group(2) or "").strip()), False
        else:
            yield i, line, None, False


def _push(headings: list[str], level: int, title: str) -> list[str]:
    base = headings[: level - 1]
    return base + [""] * (level - 1 - len(base)) + [title]


def _unescape_line(line: str) -> str:
    return _ESCAPED.sub(r"\1\2", line, count=1)


def iter_markdown_lines(source: str | os.PathLike[str]) -> Iterator[tuple[list[str], str, int]]:
    """Yield ``(headings, line, line_number)`` for each non-blank, non-heading line (stripped).

    >>> list(iter_markdown_lines("intro\\n# A\\n## B\\nx  \\n\\\\# not a heading\\n"))
    [([], 'intro', 1), (['A', 'B'], 'x', 4), (['A', 'B'], '# not a heading', 5)]
    """
    headings: list[str] = []
    for i, line, heading, in_fence in _scan(_split_lines(_source_text(source))):
        if heading is not None:
            headings = _push(headings, heading[0], heading[1])
            continue
        text = line.strip() if in_fence else _unescape_line(line).strip()
        if text:
            yield list(headings), text, i + 1


def iter_markdown_entries(
    source: str | os.PathLike[str], *, skip_empty: bool = True
) -> Iterator[tuple[list[str], str, int]]:
    """Yield ``(headings, text, line_number)`` for each section (the text under one heading).

    The text loses its leading and trailing blank lines; ``line_number`` is the heading's (for
    text before any heading: its first line's). Sections with no text are skipped unless
    ``skip_empty=False`` (root text is yielded only when it is not blank).

    >>> list(iter_markdown_entries("# A\\none\\n\\ntwo\\n## B\\n```\\n# code\\n```\\n"))
    [(['A'], 'one\\n\\ntwo', 1), (['A', 'B'], '```\\n# code\\n```', 5)]
    """
    headings: list[str] = []
    body: list[str] = []
    start: int | None = None  # 1-based line of the current section's heading; None for root

    def section() -> tuple[list[str], str, int] | None:
        while body and not body[-1].strip():
            body.pop()
        first = next((k for k, ln in enumerate(body) if ln.strip()), len(body))
        text = "\n".join(body[first:])
        if start is None:
            return (list(headings), text, root_line + first) if text else None
        return (list(headings), text, start) if text or not skip_empty else None

    root_line = 1
    for i, line, heading, in_fence in _scan(_split_lines(_source_text(source))):
        if heading is None:
            body.append(line if in_fence else _unescape_line(line).rstrip(" \t"))
            continue
        out = section()
        if out is not None:
            yield out
        headings, body, start = _push(headings, heading[0], heading[1]), [], i + 1
    out = section()
    if out is not None:
        yield out


# --------------------------------------------------------------------------------------- writing


def escape_markdown_headings(text: str) -> str:
    r"""Escape the lines of ``text`` that would read as headings or stray fences (see module doc).

    Fenced code blocks that close inside ``text`` are kept as they are; a fence that never
    closes is escaped, so it cannot swallow the headings that follow it.

    >>> escape_markdown_headings("# a\n```\n# code\n```\n\\# b")
    '\\# a\n```\n# code\n```\n\\\\# b'
    """
    lines = _split_lines(text.replace("\r\n", "\n"))
    out: list[str] = []
    fence: str | None = None
    for i, line in enumerate(lines):
        if fence is not None:
            if _is_closer(line, fence):
                fence = None
            out.append(line)
            continue
        opened = _opener(line)
        if opened is not None and any(_is_closer(ln, opened) for ln in lines[i + 1 :]):
            fence = opened
            out.append(line)
            continue
        out.append(_ESCAPABLE.sub(r"\1\\\2", line, count=1))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def unescape_markdown_headings(text: str) -> str:
    r"""Inverse of :func:`escape_markdown_headings` (fence-aware).

    >>> unescape_markdown_headings(escape_markdown_headings("## x\n\\# y"))
    '## x\n\\# y'
    """
    lines = _split_lines(text)
    out = [
        line if in_fence or heading is not None else _unescape_line(line) for _, line, heading, in_fence in _scan(lines)
    ]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _clean_headings(headings: Iterable[str]) -> list[str]:
    out = []
    for h in headings:
        if not isinstance(h, str):
            raise TypeError(f"a heading must be a str, got {type(h).__name__}: {h!r}")
        if "\n" in h or "\r" in h:
            raise ValueError(f"a heading cannot span lines: {h!r}")
        out.append(h.strip())
    return out


def _heading_lines(headings: list[str], prev: list[str] | None, repeat_same: bool) -> list[str]:
    """The heading lines that move the reader from ``prev`` to ``headings``."""
    if not headings:
        if prev:
            raise ValueError("a record with no headings (root text) can only come first")
        if prev is not None and repeat_same:
            raise ValueError("only one entry can have no headings (the root text)")
        return []
    prev = prev or []
    k = 0
    while k < len(headings) and k < len(prev) and headings[k] == prev[k]:
        k += 1
    if k == len(headings) and (repeat_same or len(headings) < len(prev)):
        k -= 1  # same path (or a parent of the last one): repeat the last heading
    return [("#" * (lvl + 1) + (" " + h if h else "")) for lvl, h in enumerate(headings) if lvl >= k]


def write_markdown_entries(records: Iterable[tuple[Sequence[str], str]]) -> str:
    """Markdown for ``(headings, text)`` records; :func:`iter_markdown_entries` reads it back.

    >>> print(write_markdown_entries([(["A"], "one"), (["A", "B"], "# two")]), end="")
    # A
    <BLANKLINE>
    one
    <BLANKLINE>
    ## B
    <BLANKLINE>
    \\# two
    """
    out: list[str] = []
    prev: list[str] | None = None
    for headings, text in records:
        hs = _clean_headings(headings)
        for line in _heading_lines(hs, prev, repeat_same=True):
            out += [line, ""]
        prev = hs
        if not isinstance(text, str):
            raise TypeError(f"entry text must be a str, got {type(text).__name__}")
        body = escape_markdown_headings(text.replace("\r\n", "\n").strip("\n"))
        if body.strip():
            out += [body, ""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def write_markdown_lines(records: Iterable[tuple[Sequence[str], str]], *, hard_breaks: bool = True) -> str:
    """Markdown for ``(headings, line)`` records; :func:`iter_markdown_lines` reads it back.

    Lines are stripped and must not be blank. With ``hard_breaks`` each line ends in two spaces
    (a markdown line break) so that it renders on its own line; reading drops them.

    >>> print(write_markdown_lines([([], "x"), (["A"], "y"), (["A"], "z")], hard_breaks=False))
    x
    <BLANKLINE>
    # A
    <BLANKLINE>
    y
    z
    <BLANKLINE>
    """
    out: list[str] = []
    prev: list[str] | None = None
    brk = "  " if hard_breaks else ""
    for headings, line in records:
        hs = _clean_headings(headings)
        if not isinstance(line, str):
            raise TypeError(f"a line must be a str, got {type(line).__name__}")
        text = line.strip()
        if not text or "\n" in text or "\r" in text:
            raise ValueError(f"a markdown line must be one non-blank line, got {line!r}")
        heading_lines = _heading_lines(hs, prev, repeat_same=False)
        if heading_lines:
            if out:
                out.append("")
            for h in heading_lines:
                out += [h, ""]
        prev = hs
        out.append(escape_markdown_headings(text) + brk)
    return "\n".join(out) + "\n" if out else ""


def build_sort_key_from_headings(headings: Sequence[str]) -> tuple[tuple[int, str], ...]:
    """A sort key that orders heading paths numerically: ``Chapter 2`` before ``Chapter 10``.

    Each heading becomes (its first integer, or 0, then the heading itself).

    >>> sorted([["Ch 10"], ["Ch 2"], ["Ch 2", "s1"]], key=build_sort_key_from_headings)
    [['Ch 2'], ['Ch 2', 's1'], ['Ch 10']]
    """
    key = []
    for h in headings:
        m = _FIRST_INT.search(h)
        key.append((int(m.group()) if m else 0, h))
    return tuple(key)
