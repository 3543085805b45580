"""One append-only file of whole lines, shared by threads and processes.

The ledger (``calls.jsonl``) and the origins log (``origins.jsonl``) are both such files.  A
line is durable the moment ``append`` returns: it is written with one ``os.write`` on an
``O_APPEND`` descriptor while an exclusive ``flock`` is held, so two processes appending never
interleave.  A newline ends every line and is what makes it count: a writer killed mid-line leaves
a torn tail that readers skip and the next ``append`` truncates, under the lock, before it writes.
Bytes before the last newline are never changed again, which is what lets readers scan without
holding the lock.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import LedgerError, LedgerWarning

__all__ = ["AppendLog", "warn_damaged"]


PAID_AGAIN = "the calls they held are not cached, so a run sends (and pays for) them again unless it has since"


def warn_damaged(path: Path, n: int, how: str, loss: str = PAID_AGAIN) -> None:
    """Tell the user that ``n`` lines of ``path`` were damaged (``how``: skipped, cut off, ...)."""
    lines = "line" if n == 1 else "lines"
    warnings.warn(
        f"{n} damaged {lines} in {path} {how}: {loss}; the rest of the file is intact",
        LedgerWarning,
        stacklevel=3,
    )


class AppendLog:
    """One append-only file of lines shared by threads and processes.

    Writers hold an exclusive ``flock`` for the whole write; readers hold a shared one only to
    find where the complete lines end.  After a ``fork`` the child reopens the file, because a
    ``flock`` belongs to the open file and would otherwise be shared with the parent.
    """

    def __init__(self, path: Path, *, loss: str = PAID_AGAIN) -> None:
        self.path = path
        self.loss = loss  # what a damaged line costs the user, for the warning
        self._map: mmap.mmap | None = None
        self._open()

    def _open(self) -> None:
        self.writable = True
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except PermissionError:
            self.writable = False
        except OSError as e:
            if e.errno != errno.EROFS:
                raise LedgerError(f"cannot open the ledger file {self.path}: {e.strerror}") from e
            self.writable = False
        if not self.writable:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise LedgerError(f"cannot open the ledger file {self.path}: {e.strerror}") from e
        self._pid = os.getpid()

    @property
    def fd(self) -> int:
        if self._pid != os.getpid() and self._fd >= 0:
            self._open()
        if self._fd < 0:
            raise LedgerError(f"the ledger file {self.path} is closed")
        return self._fd

    def close(self) -> None:
        self._map = None
        if self._fd >= 0:
            if self._pid == os.getpid():
                os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:  # bf.Ledger(path).to_pandas() must not leak a descriptor
        if getattr(self, "_fd", -1) >= 0:
            self.close()

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def complete_end(self, start: int) -> int:
        """Offset just past the last complete line at or after ``start`` (``start`` if none)."""
        fd = self.fd
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            return _last_newline_end(fd, start, os.fstat(fd).st_size)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def append(self, data: bytes, indexed_end: int, *, fsync: bool = False) -> int:
        """Write ``data`` (whole lines) at the end; return the offset it was written at.

        Under the lock, a torn tail left by a killed writer is cut off first, so ``data`` starts
        on a fresh line.  Lines from ``indexed_end`` to the returned offset were written by other
        processes since this one last looked.
        """
        if not self.writable:
            raise LedgerError(f"the ledger file {self.path} is read-only")
        fd = self.fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if size != indexed_end:
                end = _last_newline_end(fd, min(indexed_end, size), size)
                if end < size:  # only a dead writer leaves one: writers hold this lock
                    os.ftruncate(fd, end)
                    warn_damaged(self.path, 1, f"cut off ({size - end} bytes of an unfinished last line)", self.loss)
                size = end
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as e:  # disk full, quota: leave no partial line behind
                os.ftruncate(fd, size)
                raise LedgerError(f"cannot append to the ledger file {self.path}: {e.strerror}") from e
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if fsync:
            os.fsync(fd)
        return size

    def lookup_lines(self, offs: Sequence[int], lns: Sequence[int], end: int) -> Iterator[bytes]:
        """The lines at ``offs`` (all before ``end``), read through a memory map.

        A map saves a system call per line (~1 us here, a third of a lookup).  It covers the file
        up to an indexed end, never a torn tail that may be cut off; lines appended since it was
        made are read with ``pread`` until there are enough of them to be worth a new map.
        """
        mm = self._map
        if mm is None or end - len(mm) > max(1 << 26, len(mm) // 4):
            # The old map is not closed: a reader in another thread may still hold it.
            mm = self._map = mmap.mmap(self.fd, end, prot=mmap.PROT_READ) if end else None
        size = len(mm) if mm is not None else 0
        fd = self.fd
        for o, n in zip(offs, lns, strict=True):
            yield mm[o : o + n] if o + n <= size else os.pread(fd, n, o)  # type: ignore[index]

    def blocks(self, start: int, stop: int, size: int = 1 << 22) -> Iterator[tuple[int, bytes]]:
        """``[start, stop)`` as (offset, block) of whole lines (``stop`` must end a line)."""
        fd = self.fd
        while start < stop:
            block = os.pread(fd, min(size, stop - start), start)
            cut = block.rfind(b"\n") + 1
            if cut == 0:  # a line longer than a block
                size *= 2
                continue
            yield start, block[:cut] if cut < len(block) else block
            start += cut


def _last_newline_end(fd: int, start: int, size: int) -> int:
    """Offset just past the last newline in ``[start, size)``, or ``start``."""
    if size > start and os.pread(fd, 1, size - 1) == b"\n":  # the usual case: no torn tail
        return size
    pos = size
    while pos > start:
        lo = max(start, pos - 65536)
        i = os.pread(fd, pos - lo, lo).rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        pos = lo
    return start
