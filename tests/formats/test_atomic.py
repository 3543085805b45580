"""atomic_write / atomic_open: all or nothing, parents created, no temp file left behind."""

from __future__ import annotations

import os

import pytest

from bfnb.formats.atomic import atomic_open, atomic_write


def test_atomic_write_creates_parents_and_writes_bytes_or_str(tmp_path):
    p = tmp_path / "a" / "b" / "out.txt"
    atomic_write(p, "héllo\n")
    assert p.read_bytes() == "héllo\n".encode()
    atomic_write(p, b"\x00\xff")
    assert p.read_bytes() == b"\x00\xff"
    assert os.listdir(p.parent) == ["out.txt"]


def test_failure_inside_block_keeps_old_file_and_removes_temp(tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(p, "w") as f:
        f.write("half of the new con")
        raise RuntimeError("crash mid-write")
    assert p.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["data.jsonl"]


def test_failure_before_first_write_leaves_no_file(tmp_path):
    p = tmp_path / "never.bin"
    with pytest.raises(KeyError), atomic_open(p):
        raise KeyError("x")
    assert not p.exists()
    assert os.listdir(tmp_path) == []


def test_text_mode_uses_utf8_and_lf(tmp_path):
    p = tmp_path / "t.md"
    with atomic_open(p, "w") as f:
        f.write("a\nβ\n")
    assert p.read_bytes() == "a\nβ\n".encode()


def test_replaced_file_keeps_its_permissions(tmp_path):
    p = tmp_path / "script.sh"
    p.write_text("echo 1")
    os.chmod(p, 0o755)
    atomic_write(p, "echo 2")
    assert p.stat().st_mode & 0o777 == 0o755
    assert p.read_text() == "echo 2"


def test_new_file_is_not_private_to_owner_only(tmp_path):
    p = tmp_path / "new.txt"
    atomic_write(p, "x")
    assert p.stat().st_mode & 0o044  # readable by group/others under a normal umask


def test_rejects_read_and_append_modes(tmp_path):
    with pytest.raises(ValueError), atomic_open(tmp_path / "x", "a"):
        pass
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "x", 123)  # type: ignore[arg-type]


def test_docstring_examples_run():
    import doctest

    from bfnb.formats import atomic as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
