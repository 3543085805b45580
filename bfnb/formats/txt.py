"""A folder of text files as records: one ``(path, name, text)`` per file, in path order.

``name`` is the file's path relative to the folder (or to the fixed part of a glob), with ``/``
separators and without its extension, so that ``books/alice.txt`` under ``books`` is ``alice``
and ``books/vol1/ch1.txt`` is ``vol1/ch1``: a stable key for idx and for writing back. Files
are decoded as strict UTF-8 (a BOM is dropped); a bad byte raises a :class:`SourceError` that
names the file, the line and the byte offset. A pattern matching nothing is an error too, not an
empty batch, unless ``allow_empty=True``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import SourceError

__all__ = ["iter_txt_folder", "read_text_file"]

_MAGIC = set("*?[")


def read_text_file(path: str | os.PathLike[str]) -> str:
    """A file's text as strict UTF-8; :class:`SourceError` names the file, line and byte."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read {str(p)!r}: {e.strerror or e}") from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SourceError(
            f"{str(p)!r} is not valid UTF-8: line {line}, byte offset {e.start} (byte {data[e.start : e.start + 1]!r})"
        ) from None


def _base_and_paths(glob_or_dir: str) -> tuple[Path, list[Path]]:
    if not any(c in _MAGIC for c in glob_or_dir):
        base = Path(glob_or_dir)
        if base.is_dir():
            return base, [p for p in base.rglob("*.txt") if p.is_file()]
        if base.is_file():
            return base.parent, [base]
        raise SourceError(f"no such file or folder: {glob_or_dir!r}")
    parts = Path(glob_or_dir).parts
    fixed = []
    for part in parts:
        if any(c in _MAGIC for c in part):
            break
        fixed.append(part)
    base = Path(*fixed) if fixed else Path(".")
    paths = [Path(p) for p in glob.glob(glob_or_dir, recursive=True)]
    return base, [p for p in paths if p.is_file()]


def iter_txt_folder(
    glob_or_dir: str | os.PathLike[str], *, allow_empty: bool = False
) -> Iterator[tuple[Path, str, str]]:
    """Yield ``(path, name, text)`` for each text file, sorted by path.

    ``glob_or_dir`` is a folder (every ``*.txt`` below it, recursively), one file, or a glob
    (``"books/**/*.md"``).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "b.txt").write_text("bee"); (d / "sub").mkdir()
    >>> _ = (d / "sub" / "a.txt").write_text("ay")
    >>> [(name, text) for _, name, text in iter_txt_folder(d)]
    [('b', 'bee'), ('sub/a', 'ay')]
    """
    base, paths = _base_and_paths(os.fspath(glob_or_dir))
    if not paths and not allow_empty:
        raise SourceError(f"no files match {os.fspath(glob_or_dir)!r}")
    for p in sorted(paths):
        rel = p.relative_to(base) if p.is_relative_to(base) else Path(p.name)
        yield p, rel.with_suffix("").as_posix(), read_text_file(p)
