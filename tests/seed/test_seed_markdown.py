"""bf.markdown keeps the seed's helpers; these are the cases where it departs from the seed's bugs."""

from __future__ import annotations

import pytest

import bfnb as bf

md = bf.markdown


def test_bf_markdown_is_the_seed_shaped_module():
    for name in [
        "detect_markdown_heading_line",
        "update_markdown_headings",
        "generate_markdown_heading_lines",
        "escape_markdown_heading_line",
        "detect_code_fence",
        "escape_markdown_headings",
        "iter_markdown_lines",
        "iter_markdown_entries",
        "write_markdown_lines",
        "write_markdown_entries",
        "build_sort_key_from_headings",
    ]:
        assert callable(getattr(md, name)), name
    assert md.build_sort_key_from_headings(["Ch 10", "x"]) == [(10, "Ch 10"), (0, "x")]


def test_text_that_looks_like_a_heading_survives_write_then_read(tmp_path):
    entries = [(["A"], "# not a heading\n\\# already escaped\nplain\n"), (["A", "B"], "```\n# code\n```\n")]
    p = tmp_path / "sub" / "e.md"  # the folder is created
    md.write_markdown_entries(p, entries)
    assert "\\# not a heading" in p.read_text()  # escaped on disk, as the seed wrote it
    assert list(md.iter_markdown_entries(p)) == entries  # the seed read "\\# not a heading" back


def test_lines_that_look_like_headings_stay_lines(tmp_path):
    p = tmp_path / "l.md"
    md.write_markdown_lines(p, [(["H"], "# 1"), (["H"], "two")])
    assert list(md.iter_markdown_lines(p)) == [(["H"], "# 1"), (["H"], "two")]


def test_reading_lines_respects_fences(tmp_path):
    p = tmp_path / "f.md"
    p.write_text("# H\n````\n# comment\n```\n````\nafter\n", encoding="utf-8")
    # the seed read "# comment" as a heading; and "```" (shorter) does not close a "````" fence
    assert list(md.iter_markdown_lines(p)) == [
        (["H"], "````"),
        (["H"], "# comment"),
        (["H"], "```"),
        (["H"], "````"),
        (["H"], "after"),
    ]
    assert list(md.iter_markdown_entries(p)) == [(["H"], "````\n# comment\n```\n````\nafter\n")]


def test_closing_an_unclosed_fence_starts_a_new_line():
    assert md.escape_markdown_headings("```\ncode") == "```\ncode\n```\n"
    with pytest.raises(ValueError):
        md.escape_markdown_headings("```\ncode", fix_unclosed_code_fence=False)
