"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every bfnb writer (JSONL, Parquet, markdown, text folders, checkpoints) goes through here. The
data goes to a temporary file in the destination's own directory (so that the final
:func:`os.replace` is a rename on one file system, which POSIX and Windows make atomic), is
flushed, and only then replaces the target. If anything fails on the way, the temporary file is
removed and the previous file is left exactly as it was.  That holds for a crash of the process
at any moment.  ``fsync=True`` also makes the new file survive a power cut (it costs a disk flush,
~10 ms here, which pipeline outputs that can be rebuilt from the ledger do not need).

A read-only target (no write bit, e.g. ``chmod 0444``) is refused, not silently replaced: a rename
would replace it even though the file says "do not write", and as root nothing else would stop it.
:func:`atomic_write_many` extends the guarantee to a set of files (a text folder): every file is
staged first, then all are renamed into place; if one rename fails, the ones already renamed are
put back, so the set is all new or all old.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "atomic_write_many", "check_writable"]

# Read once at import: os.umask can only be read by setting it, which is not thread-safe later.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "wb", *, fsync: bool = False, **kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without error.

    ``mode`` is ``"wb"`` or ``"w"`` (text mode defaults to UTF-8 and ``\\n`` newlines).
    Parent directories are created.

    >>> import tempfile, os, pathlib
    >>> d = tempfile.mkdtemp()
    >>> with atomic_open(os.path.join(d, "sub", "a.txt"), "w") as f:
    ...     _ = f.write("hello")
    >>> pathlib.Path(d, "sub", "a.txt").read_text()
    'hello'
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open supports write modes 'w' and 'wb', not {mode!r}")
    target = Path(path)
    check_writable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("newline", "\n")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        _keep_mode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_dir(target.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, fsync: bool = False) -> None:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically.

    >>> import tempfile, os, pathlib
    >>> p = os.path.join(tempfile.mkdtemp(), "b.bin")
    >>> atomic_write(p, b"\\x00\\x01")
    >>> pathlib.Path(p).read_bytes()
    b'\\x00\\x01'
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"atomic_write takes bytes or str, not {type(data).__name__}")
    with atomic_open(path, "wb", fsync=fsync) as f:
        f.write(data)


def check_writable(target: Path) -> None:
    """Raise PermissionError for a read-only file, IsADirectoryError for a folder, at ``target``."""
    try:
        st = target.stat()
    except (FileNotFoundError, NotADirectoryError):
        return
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "a folder is in the way of the output file", str(target))
    if not st.st_mode & 0o222:
        raise PermissionError(
            errno.EACCES,
            f"the file is read-only (mode {st.st_mode & 0o777:04o}); bfnb does not replace a read-only file: "
            f"make it writable (chmod u+w) or write elsewhere",
            str(target),
        )


def atomic_write_many(items: Sequence[tuple[Path, bytes | str]]) -> None:
    """Write every ``(path, data)`` or none: stage all, then rename all, undoing renames on failure.

    A crash between two renames (not an error: the process dying) can still leave a mix; the staged
    files of an interrupted call are removed when the error is raised.
    """
    for path, _ in items:
        check_writable(Path(path))
    staged: list[tuple[Path, str]] = []
    try:
        for path, data in items:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((target, tmp))
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            _keep_mode(target, tmp)
        _swap_all(staged)
    finally:
        for _, tmp in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _swap_all(staged: list[tuple[Path, str]]) -> None:
    backups: list[tuple[Path, str | None]] = []  # (target, its old content's backup, None if it was new)
    try:
        for target, tmp in staged:
            backup = None
            if target.exists():
                fd, backup = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
                os.close(fd)
                os.replace(target, backup)
            backups.append((target, backup))
            os.replace(tmp, target)
    except BaseException:
        for target, backup in reversed(backups):  # undo: the old files back, the new ones gone
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                elif target.exists():
                    os.unlink(target)
        raise
    for _, backup in backups:
        if backup is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(backup)


def _keep_mode(target: Path, tmp: str) -> None:
    """mkstemp creates files 0600; give the new file the old file's mode, or the umask default."""
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    os.chmod(tmp, mode)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
