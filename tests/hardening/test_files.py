"""Writers facing broken or hostile file systems: all or nothing, read-only refused, containment on the real path."""

from __future__ import annotations

import os

import pytest

import bfnb as bf
from bfnb.op import FromList, WriteJsonl, WriteMarkdownEntries, WriteTxtFolder


def texts(*pairs):
    return FromList([{"filename": n, "text": t} for n, t in pairs])


def test_write_txt_folder_failing_on_the_second_of_three_files_leaves_all_old(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for n in "abc":
        (out / f"{n}.txt").write_text(f"old {n}")
    (out / "b.txt").unlink()
    (out / "b.txt").mkdir()  # a folder where the 2nd file goes: that one cannot be written
    g = bf.Graph() | texts(("a", "new a"), ("b", "new b"), ("c", "new c")) | WriteTxtFolder(out)
    with pytest.raises(bf.WriteError) as e:
        g.run()
    assert "b.txt" in str(e.value) and "nothing was written" in str(e.value) and isinstance(e.value, OSError)
    assert (out / "a.txt").read_text() == "old a" and (out / "c.txt").read_text() == "old c"
    assert sorted(os.listdir(out)) == ["a.txt", "b.txt", "c.txt"]  # no staged or backup file left behind
    (out / "b.txt").rmdir()  # the fix
    g.run()
    assert [(out / f"{n}.txt").read_text() for n in "abc"] == ["new a", "new b", "new c"]


def test_write_txt_folder_rolls_back_renames_already_done(tmp_path, monkeypatch):
    from bfnb.formats import atomic

    out = tmp_path / "out"
    out.mkdir()
    for n in "abc":
        (out / f"{n}.txt").write_text(f"old {n}")
    real_replace, calls = os.replace, []

    def flaky_replace(src, dst):  # the 2nd file's final rename fails (a full disk, a vanished folder)
        calls.append(dst)
        if str(dst).endswith("b.txt") and str(src).endswith(".tmp"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky_replace)
    g = bf.Graph() | texts(("a", "new a"), ("b", "new b"), ("c", "new c")) | WriteTxtFolder(out)
    with pytest.raises(bf.WriteError, match="No space left on device"):
        g.run()
    assert [(out / f"{n}.txt").read_text() for n in "abc"] == ["old a", "old b", "old c"]
    assert sorted(os.listdir(out)) == ["a.txt", "b.txt", "c.txt"]
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    g.run()
    assert (out / "b.txt").read_text() == "new b"


@pytest.mark.parametrize("writer", [lambda p: WriteJsonl(p), lambda p: WriteMarkdownEntries(p)])
def test_a_read_only_output_file_is_refused_not_replaced(tmp_path, writer):
    target = tmp_path / "out.txt"
    target.write_text("keep me")
    target.chmod(0o444)
    g = bf.Graph() | FromList([{"text": "x", "headings": []}]) | writer(target)
    with pytest.raises(bf.WriteError) as e:
        g.run()
    assert "read-only" in str(e.value) and "out.txt" in str(e.value) and "0444" in str(e.value)
    assert target.read_text() == "keep me" and os.listdir(tmp_path) == ["out.txt"]
    target.chmod(0o644)
    g.run()
    assert target.read_text() != "keep me"


def test_a_symlinked_subfolder_inside_an_output_folder_is_refused(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "sub").symlink_to(outside, target_is_directory=True)
    g = bf.Graph() | texts(("ok", "fine"), ("sub/evil", "escaped")) | WriteTxtFolder(out)
    with pytest.raises(bf.PathError) as e:
        g.run()
    assert e.value.field == "filename" and e.value.idx is not None and "outside" in str(e.value)
    assert os.listdir(outside) == [] and not (out / "ok.txt").exists()  # nothing written, not even the good one
    (out / "sub").unlink()
    g.run()
    assert (out / "sub" / "evil.txt").read_text() == "escaped" and os.listdir(outside) == []


def test_a_project_folder_swapped_for_a_symlink_after_project_getitem_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with bf.ProjectFolder("swap", 1, 0, 0) as project:
        target = project["out/result.jsonl"]  # checked now: inside
    g = bf.Graph() | FromList([{"a": 1}]) | WriteJsonl(target)
    (project.root_folder / "out").rmdir()
    (project.root_folder / "out").symlink_to(outside, target_is_directory=True)  # swapped afterwards
    with pytest.raises(bf.PathError, match="outside") as e:
        g.run()
    assert isinstance(e.value, ValueError) and "WriteJsonl" in str(e.value)
    assert os.listdir(outside) == []
    (project.root_folder / "out").unlink()
    (project.root_folder / "out").mkdir()
    g.run()
    assert target.exists()


def test_a_file_where_the_output_folder_should_be_names_the_path(tmp_path):
    (tmp_path / "out").write_text("I am a file")
    g = bf.Graph() | FromList([{"a": 1}]) | WriteJsonl(tmp_path / "out" / "x.jsonl")
    with pytest.raises(bf.WriteError) as e:
        g.run()
    assert "x.jsonl" in str(e.value) and "WriteJsonl" in str(e.value) and "nothing was written" in str(e.value)
    assert (tmp_path / "out").read_text() == "I am a file"
    (tmp_path / "out").unlink()
    g.run()
    assert (tmp_path / "out" / "x.jsonl").exists()
