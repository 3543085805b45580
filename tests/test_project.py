"""ProjectFolder: a folder namespace whose paths never escape it."""

from __future__ import annotations

import pytest

import bfnb as bf


def test_folder_name_context_and_paths(tmp_path):
    with bf.ProjectFolder("quickstart", 1, 0, 7, data_dir=tmp_path) as project:
        assert bf.ProjectFolder.get_current() is project
        out = project["out/poems.md"]
    assert project.root_folder == tmp_path / "quickstart_v1.0.7"
    assert out == project.root_folder / "out" / "poems.md"
    assert out.parent.is_dir()  # parents are created


@pytest.mark.parametrize("bad", ["../escape.md", "out/../../x", "/etc/passwd", "a/../../b"])
def test_paths_that_escape_are_refused(tmp_path, bad):
    project = bf.ProjectFolder("p", data_dir=tmp_path)
    with pytest.raises(ValueError):
        project[bad]
    assert not (tmp_path / "escape.md").exists()


def test_a_symlink_pointing_outside_is_refused(tmp_path):
    project = bf.ProjectFolder("p", data_dir=tmp_path / "data")
    (project.root_folder / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="outside"):
        project["link/x.md"]


def test_bfnb_data_dir_moves_the_default_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BFNB_DATA_DIR", str(tmp_path / "elsewhere"))
    assert bf.ProjectFolder("x").root_folder == tmp_path / "elsewhere" / "x_v0.0.0"
