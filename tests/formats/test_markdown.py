"""bf.markdown: headings, fences, escaping, and write -> read round trips."""

from __future__ import annotations

import random

import pytest

from bfnb.errors import SourceError
from bfnb.formats.markdown import (
    build_sort_key_from_headings,
    escape_markdown_headings,
    iter_markdown_entries,
    iter_markdown_lines,
    unescape_markdown_headings,
    write_markdown_entries,
    write_markdown_lines,
)


def lines_of(text):
    return [(h, t) for h, t, _ in iter_markdown_lines(text)]


def entries_of(text, **kw):
    return [(h, t) for h, t, _ in iter_markdown_entries(text, **kw)]


def test_heading_rules():
    text = "\n".join(
        [
            "# One",
            "   ## Indented three",
            "    ## four spaces: text",
            "#no-space is text",
            "########  Deep  ",
            "deep text",
            "#",
            "x",
        ]
    )
    assert lines_of(text) == [
        (["One", "Indented three"], "## four spaces: text"),
        (["One", "Indented three"], "#no-space is text"),
        (["One", "Indented three", "", "", "", "", "", "Deep"], "deep text"),
        ([""], "x"),
    ]


def test_skipped_levels_are_filled_and_deeper_levels_reset():
    text = "# A\n### C\nx\n## B\ny\n# Z\nz\n"
    assert lines_of(text) == [(["A", "", "C"], "x"), (["A", "B"], "y"), (["Z"], "z")]


def test_line_numbers_are_one_based_file_lines():
    text = "root\n\n# A\n\nfirst  \nsecond\n"
    assert list(iter_markdown_lines(text)) == [
        ([], "root", 1),
        (["A"], "first", 5),
        (["A"], "second", 6),
    ]


def test_fences_suppress_headings_and_need_matching_closer():
    text = "\n".join(
        [
            "# A",
            "````python",
            "# comment",
            "```",  # shorter: does not close a 4-backtick fence
            "~~~",  # other char: does not close
            "````",
            "## B",
            "~~~",
            "# inside tilde",
            "~~~~",
            "# C",
            "end",
        ]
    )
    got = lines_of(text)
    assert (["A"], "# comment") in got and (["A", "B"], "# inside tilde") in got
    assert got[-1] == (["C"], "end")
    assert entries_of(text)[0] == (["A"], "````python\n# comment\n```\n~~~\n````")


def test_backtick_fence_info_string_cannot_hold_backticks():
    # "``` a`b" is not a fence opener, so the next heading is a heading
    assert lines_of("``` a`b\n# H\nx") == [([], "``` a`b"), (["H"], "x")]


def test_entries_root_text_blank_lines_and_hard_breaks():
    text = "\n\nPrologue  \n\n# Chapter 1\n\n\nIt began.  \nThen more.\n\n\n## Scene\nx\n# Empty\n\n# Last\ny"
    assert list(iter_markdown_entries(text)) == [
        ([], "Prologue", 3),
        (["Chapter 1"], "It began.\nThen more.", 5),
        (["Chapter 1", "Scene"], "x", 12),
        (["Last"], "y", 16),
    ]
    assert (["Empty"], "") in entries_of(text, skip_empty=False)


def test_escaped_heading_in_file_reads_as_text():
    text = "# A\n\\# not a heading\n\\\\# one backslash kept\n"
    assert lines_of(text) == [(["A"], "# not a heading"), (["A"], "\\# one backslash kept")]
    assert entries_of(text) == [(["A"], "# not a heading\n\\# one backslash kept")]


def test_reads_files_and_rejects_bad_utf8(tmp_path):
    p = tmp_path / "doc.md"
    p.write_bytes("\ufeff# Título\r\nlínea\r\n".encode())
    assert lines_of(p) == [(["Título"], "línea")]
    assert lines_of(str(p)) == [(["Título"], "línea")]
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"# ok\nfine\ncaf\xe9\n")
    with pytest.raises(SourceError) as e:
        list(iter_markdown_entries(bad))
    assert str(bad) in str(e.value) and "line 3" in str(e.value)
    with pytest.raises(SourceError, match=r"missing\.md"):
        list(iter_markdown_lines(str(tmp_path / "missing.md")))


def test_write_entries_emits_only_changed_headings():
    md = write_markdown_entries(
        [
            ([], "Intro"),
            (["Book", "Ch 1"], "one"),
            (["Book", "Ch 2"], "two"),
            (["Book", "Ch 2"], "two again"),
            (["Book"], "book text"),
        ]
    )
    assert md.splitlines().count("# Book") == 2  # once at first, again to return to level 1
    assert md.count("## Ch 2") == 2  # same path twice: the heading is repeated
    assert md.startswith("Intro\n\n# Book\n\n## Ch 1\n\none\n")


def test_write_lines_layout_and_hard_breaks():
    md = write_markdown_lines([([], "r"), (["A"], " x "), (["A"], "y"), (["A", "B"], "z")])
    assert md == "r  \n\n# A\n\nx  \ny  \n\n## B\n\nz  \n"
    assert lines_of(md) == [([], "r"), (["A"], "x"), (["A"], "y"), (["A", "B"], "z")]


def test_write_errors():
    with pytest.raises(ValueError, match="root"):
        write_markdown_entries([(["A"], "x"), ([], "late root")])
    with pytest.raises(ValueError):
        write_markdown_lines([(["A"], "   ")])
    with pytest.raises(ValueError):
        write_markdown_lines([(["A"], "two\nlines")])
    with pytest.raises(ValueError, match="span"):
        write_markdown_entries([(["bad\nheading"], "x")])
    with pytest.raises(TypeError):
        write_markdown_entries([([1], "x")])


TRICKY = [
    "# looks like a heading",
    "   ## indented heading",
    "#",
    "\\# already escaped",
    "\\\\## doubly escaped",
    "```",
    "```python",
    "~~~",
    "````",
    "    # code block by indent",
    "#hashtag",
    "plain text",
    "ünïcödé ✓",
    "",
    "  ",
]


def test_entries_roundtrip_with_tricky_content():
    rng = random.Random(7)
    for _ in range(300):
        records = []
        paths = [[], ["A"], ["A", "B"], ["A", "B"], ["C"], ["C", "", "D"], ["Ch 10"]]
        for k, hs in enumerate(paths):
            body = [rng.choice(TRICKY) for _ in range(rng.randint(1, 6))] + [f"end {k}"]
            text = "\n".join(body).strip("\n")
            text = "\n".join(ln.rstrip() for ln in text.split("\n")).strip("\n")
            while text and not text.split("\n")[0].strip():
                text = text.split("\n", 1)[1]
            records.append((hs, text))
        md = write_markdown_entries(records)
        assert entries_of(md) == records, md


def test_lines_roundtrip_with_tricky_content():
    records = [(["H", "I"], t.strip()) for t in TRICKY if t.strip()]
    md = write_markdown_lines(records)
    assert lines_of(md) == records


def test_escape_unescape_inverse():
    rng = random.Random(3)
    for _ in range(500):
        text = "\n".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 10)))
        esc = escape_markdown_headings(text)
        assert unescape_markdown_headings(esc) == text
        # after escaping, nothing outside a closed fence reads as a heading
        assert all(h == [] for h, _, _ in iter_markdown_lines(esc + "\nz"))


def test_unclosed_fence_in_entry_cannot_swallow_next_heading():
    md = write_markdown_entries([(["A"], "```\n# inside unclosed"), (["B"], "b")])
    assert entries_of(md) == [(["A"], "```\n# inside unclosed"), (["B"], "b")]


def test_sort_key_is_numeric_aware():
    paths = [["Ch 10"], ["Ch 2", "s 11"], ["Ch 2", "s 3"], ["Ch 2"], ["Intro"], ["Ch 1"]]
    assert sorted(paths, key=build_sort_key_from_headings) == [
        ["Intro"],
        ["Ch 1"],
        ["Ch 2"],
        ["Ch 2", "s 3"],
        ["Ch 2", "s 11"],
        ["Ch 10"],
    ]


def test_demo_file_reads_every_topic():
    from pathlib import Path

    demo = Path("/work/shared/seed/demo_data/greek_mythology_stories.md")
    if not demo.exists():
        pytest.skip("seed demo data not present")
    got = list(iter_markdown_lines(demo))
    assert got[0][:2] == (["Greek Mythology Stories"], "Prometheus Steals Fire")
    assert all(not t.endswith(" ") for _, t, _ in got)


def test_docstring_examples_run():
    import doctest

    from bfnb.formats import markdown as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
