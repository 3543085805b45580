"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every bfnb writer (JSONL, Parquet, markdown, text folders, checkpoints) goes through here. The
data goes to a temporary file in the destination's own directory (so that the final
:func:`os.replace` is a rename on one file system, which POSIX and Windows make atomic), is
flushed, and only then replaces the target. If anything fails on the way, the temporary file is
removed and the previous file is left exactly as it was.  That holds for a crash of the process
at any moment.  ``fsync=True`` also makes the new file survive a power cut (it costs a disk flush,
~10 ms here, which pipeline outputs that can be rebuilt from the ledger do not need).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write"]

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
