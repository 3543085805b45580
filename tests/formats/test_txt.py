"""iter_txt_folder: sorted (path, name, text) records, strict UTF-8, no silent empty result."""

from __future__ import annotations

import pytest

from bfnb.errors import SourceError
from bfnb.formats.txt import iter_txt_folder


@pytest.fixture
def books(tmp_path):
    root = tmp_path / "books"
    (root / "vol2").mkdir(parents=True)
    (root / "b.txt").write_text("Bee\nline 2\n", encoding="utf-8")
    (root / "a.txt").write_bytes("\ufeffAy ✓".encode())
    (root / "vol2" / "c.txt").write_bytes(b"windows\r\nnewlines")
    (root / "notes.md").write_text("# not a txt")
    return root


def test_folder_reads_txt_recursively_sorted(books):
    got = list(iter_txt_folder(books))
    assert [name for _, name, _ in got] == ["a", "b", "vol2/c"]
    assert [p.name for p, _, _ in got] == ["a.txt", "b.txt", "c.txt"]
    assert got[0][2] == "Ay ✓"  # BOM dropped
    assert got[2][2] == "windows\r\nnewlines"  # content kept exactly


def test_glob_names_are_relative_to_fixed_part(books):
    got = list(iter_txt_folder(str(books / "**" / "*.md")))
    assert [(name, text) for _, name, text in got] == [("notes", "# not a txt")]
    got = list(iter_txt_folder(f"{books}/*/*.txt"))
    assert [name for _, name, _ in got] == ["vol2/c"]


def test_single_file(books):
    assert [n for _, n, _ in iter_txt_folder(books / "b.txt")] == ["b"]


def test_invalid_utf8_names_the_file(books):
    bad = books / "latin1.txt"
    bad.write_bytes(b"ok\ncaf\xe9")
    with pytest.raises(SourceError) as e:
        list(iter_txt_folder(books))
    assert "latin1.txt" in str(e.value) and "line 2" in str(e.value)


def test_nothing_matching_is_an_error_unless_allowed(tmp_path):
    with pytest.raises(SourceError, match="no files match"):
        list(iter_txt_folder(str(tmp_path / "*.txt")))
    assert list(iter_txt_folder(str(tmp_path / "*.txt"), allow_empty=True)) == []
    with pytest.raises(SourceError, match="no such"):
        list(iter_txt_folder(tmp_path / "missing"))


def test_docstring_examples_run():
    import doctest

    from bfnb.formats import txt as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
