"""Every refusal is a bf.BfnbError (keeping the builtin base where natural) naming op, idx and field."""

from __future__ import annotations

import os

import pytest

import bfnb as bf
from bfnb.op import FromList, ReadJsonl, WriteTxtFolder


def test_project_path_refusals_are_path_errors(tmp_path):
    with bf.ProjectFolder("paths", 1, 0, 0) as project:
        for bad in ["../x.md", "/etc/passwd", "out/\0.md", "out/\ud800.md"]:
            with pytest.raises(bf.PathError) as e:
                project[bad]
            assert isinstance(e.value, ValueError) and isinstance(e.value, bf.BfnbError)
        with pytest.raises(bf.PathError, match=r"may not contain '\.\.'"):
            project.resolve_path("a/../../b")
        assert project["out/x.md"].parent.is_dir()  # the fix: a relative path inside
    with pytest.raises(bf.PathError, match="NUL"):
        bf.ProjectFolder("a\0b")


def test_an_unwritable_project_root_says_where_and_what_to_set(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(bf.WriteError) as e:
        bf.ProjectFolder("p", 1, 0, 0, data_dir=blocker)
    assert isinstance(e.value, OSError) and str(blocker) in str(e.value) and "data_dir=" in str(e.value)
    assert bf.ProjectFolder("p", 1, 0, 0, data_dir=tmp_path / "ok").root_folder.is_dir()


@pytest.mark.parametrize(("name", "words"), [("a\0b", "NUL"), ("a\ud800b", "lone surrogate")])
def test_bad_file_names_from_data_name_the_entry_and_field(tmp_path, name, words):
    rows = [{"filename": "good", "text": "x"}, {"filename": name, "text": "y"}]
    g = bf.Graph() | FromList(rows) | WriteTxtFolder(tmp_path / "out")
    with pytest.raises(bf.PathError) as e:
        g.run()
    assert words in str(e.value) and e.value.field == "filename" and e.value.idx is not None
    assert "WriteTxtFolder" in str(e.value) and not (tmp_path / "out").exists()
    rows[1]["filename"] = "fixed"
    (bf.Graph() | FromList(rows) | WriteTxtFolder(tmp_path / "out")).run()
    assert sorted(os.listdir(tmp_path / "out")) == ["fixed.txt", "good.txt"]


def test_a_lone_surrogate_in_text_names_entry_and_field(tmp_path):
    rows = [{"filename": "a", "text": "ok"}, {"filename": "b", "text": "bad \udcff here"}]
    with pytest.raises(bf.OpError) as e:
        (bf.Graph() | FromList(rows) | WriteTxtFolder(tmp_path / "out")).run()
    assert "lone surrogate" in str(e.value) and e.value.field == "text" and e.value.idx is not None
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("path", "words", "error"), [
    ("/dev/null", "is not a regular file", bf.SourceError),
    ("data\0.jsonl", "NUL", bf.PathError),
    ("no/such/file.jsonl", "does not exist", bf.SourceError),
])  # fmt: skip
def test_unreadable_source_paths_say_the_real_cause(path, words, error):
    with pytest.raises(error) as e:
        (bf.Graph() | ReadJsonl(path)).run()
    assert words in str(e.value) and "ReadJsonl" in str(e.value) and isinstance(e.value, bf.BfnbError)


def test_a_file_name_that_is_not_utf8_names_the_file(tmp_path):
    from bfnb.op import ReadTxtFolder

    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "good.txt").write_text("fine")
    bad = os.path.join(os.fsencode(folder), b"caf\xe9.txt")  # Latin-1 bytes: Python shows them as '\udce9'
    with open(bad, "w") as f:
        f.write("x")
    with pytest.raises(bf.PathError) as e:
        (bf.Graph() | ReadTxtFolder(str(folder / "*.txt"))).run()
    assert "not valid UTF-8" in str(e.value) and "ReadTxtFolder" in str(e.value) and "caf" in str(e.value)
    os.rename(bad, os.path.join(os.fsencode(folder), "café.txt".encode()))  # the fix: a UTF-8 name
    assert len((bf.Graph() | ReadTxtFolder(str(folder / "*.txt"))).run()) == 2
