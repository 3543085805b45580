"""Claims: who is sending which call right now, so that two processes never pay for it twice.

Before a call is sent, its request key is *claimed*: the claim names an owner (host, pid and a
token), and holds until its lease expires or the owner releases it.  A process that finds a key
claimed by another waits for that answer to reach the ledger instead of sending it again.  The
owner renews its lease while the call is slow (the call client does so every third of the lease).
A claim whose owner process is gone on this host is free at once; one held from another host is
free when its lease runs out.

:class:`ClaimStore` is the interface the call client uses; :class:`FileClaimStore` keeps claims in
``claims.jsonl`` beside the ledger.  It is a log of batches, one line per call of ``acquire``,
``renew`` or ``release`` (one write for many keys, so claiming costs a few microseconds a key)::

    {"op":"acquire","owner":"host:123:9f2c","host":"host","pid":123,"expires":1.75e9,"keys":[...]}

Every operation holds an exclusive ``flock`` on the file while it reads the lines other processes
appended since its last look, decides and appends its own line, so decisions are made on one
consistent view.  When the log has grown well past the claims still live, the process holding the
lock writes the live claims to a new file and renames it over the old one; the others notice that
the path points to another inode once they hold the lock, and read the new file from its start.
A cluster store (for Ray workers) implements the same three methods.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from ..errors import LedgerError

__all__ = ["CLAIMS_FILE", "Claim", "ClaimStore", "FileClaimStore", "LeaseRenewer"]

CLAIMS_FILE = "claims.jsonl"
DEFAULT_LEASE_S = 30.0
_COMPACT_LINES = 2048  # rewrite the log when it has this many lines and 4x more than live claims


@dataclass(frozen=True, slots=True)
class Claim:
    """One key being sent by ``owner`` (process ``pid`` on ``host``) until ``expires`` (Unix s)."""

    key: str
    owner: str
    host: str
    pid: int
    expires: float


class ClaimStore(ABC):
    """Claims on request keys, shared by every process (or worker) working on one project.

    Each store instance is one owner.  Acquiring a key it already holds succeeds again (and
    extends the lease), so a retry never waits on itself.
    """

    @property
    @abstractmethod
    def owner(self) -> str:
        """Who this store claims for (shown to the processes that wait)."""

    @abstractmethod
    def acquire(self, keys: Iterable[str], lease_s: float = DEFAULT_LEASE_S) -> tuple[list[str], dict[str, Claim]]:
        """Claim ``keys`` for ``lease_s`` seconds: (keys granted, {key: claim} held by others)."""

    @abstractmethod
    def renew(self, keys: Iterable[str], lease_s: float = DEFAULT_LEASE_S) -> list[str]:
        """Extend this owner's claims on ``keys``; returns the keys still held (lost ones left out)."""

    @abstractmethod
    def release(self, keys: Iterable[str]) -> None:
        """Give up this owner's claims on ``keys`` (keys it does not hold are ignored)."""

    def close(self) -> None:  # noqa: B027 - a store without resources need not override it
        """Release everything this owner holds and free resources."""


class LeaseRenewer:
    """Renews one owner's claims every ``lease_s / 3`` from a small thread until stopped, so a slow
    call or a long queue is never taken over by a waiting process; remembers the keys it lost."""

    def __init__(self, store: ClaimStore, lease_s: float) -> None:
        self.store, self.lease_s = store, lease_s
        self.keys: set[str] = set()
        self.lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, keys: list[str]) -> None:
        with self._lock:
            self.keys.update(keys)
            self.lost.difference_update(keys)  # claimed again
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="bfnb-claims", daemon=True)
            self._thread.start()

    def remove(self, keys: list[str]) -> None:
        with self._lock:
            self.keys.difference_update(keys)

    def _loop(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                keys = list(self.keys)
            if not keys:
                continue
            try:
                kept = set(self.store.renew(keys, self.lease_s))
            except Exception:  # a renewal that fails leaves the lease to run; the gate stops a send
                continue
            with self._lock:
                self.lost.update(k for k in keys if k not in kept and k in self.keys)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def pid_gone(pid: int) -> bool:
    """Whether process ``pid`` of this host has exited (a zombie awaiting its parent counts)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"Z", b"X")


class FileClaimStore(ClaimStore):
    """Claims in the file ``path`` (``claims.jsonl`` in the ledger folder), safe across processes.

    Parameters
    ----------
    path
        The claims log; created if missing.
    clock
        Returns Unix seconds (tests pass a fake clock to expire leases without waiting).
    host
        This machine's name as other processes see it (default ``socket.gethostname()``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.host = host if host is not None else socket.gethostname()
        self._lock = threading.Lock()
        self._token = secrets.token_hex(4)
        self._mine: set[str] = set()  # keys this owner holds, released on close
        self._fd = -1
        self._open()

    @property
    def owner(self) -> str:
        """``host:pid:token``; a forked child is another owner."""
        return f"{self.host}:{os.getpid()}:{self._token}"

    # --- the file -------------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise LedgerError(f"cannot open the claims file {self.path}: {e.strerror}") from e
        self._pid = os.getpid()
        self._claims: dict[str, Claim] = {}
        self._end = 0  # bytes of the log applied to _claims
        self._lines = 0  # lines in the log, to know when to compact it
        self._compact_at = _COMPACT_LINES

    def _reopen(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # in a forked child this closes only the child's copy
        if self._pid != os.getpid():
            self._mine = set()  # a forked child holds nothing of its parent's
        self._fd = -1
        self._open()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the exclusive lock on the current log file, with every line of it applied."""
        with self._lock:
            if self._pid != os.getpid() or self._fd < 0:
                self._reopen()
            while True:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                self._reopen()  # compacted (or removed) by another process: read the new file
            try:
                self._catch_up()
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _catch_up(self) -> None:
        size = os.fstat(self._fd).st_size
        if size < self._end:  # truncated behind our back: start over
            self._claims, self._end, self._lines = {}, 0, 0
        if size == self._end:
            return
        data = os.pread(self._fd, size - self._end, self._end)
        cut = data.rfind(b"\n") + 1
        if cut < len(data):  # a writer killed mid-line: drop its torn line (we hold the lock)
            os.ftruncate(self._fd, self._end + cut)
            data = data[:cut]
        for line in data.splitlines():
            self._lines += 1
            try:
                ev = orjson.loads(line)
                self._apply(ev["op"], ev["owner"], ev["keys"], ev)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a damaged line: its claims are lost, which only makes a wait shorter
        self._end += cut

    def _apply(self, op: str, owner: str, keys: list[str], ev: dict[str, Any]) -> None:
        claims = self._claims
        if op == "acquire":
            host, pid, expires = str(ev["host"]), int(ev["pid"]), float(ev["expires"])
            for k in keys:
                claims[k] = Claim(k, owner, host, pid, expires)
        elif op == "renew":
            expires = float(ev["expires"])
            for k in keys:
                c = claims.get(k)
                if c is not None and c.owner == owner:
                    claims[k] = replace(c, expires=expires)
        elif op == "release":
            for k in keys:
                c = claims.get(k)
                if c is not None and c.owner == owner:
                    del claims[k]

    def _write(self, op: str, keys: list[str], expires: float | None = None) -> None:
        ev: dict[str, Any] = {"op": op, "owner": self.owner}
        if op == "acquire":
            ev |= {"host": self.host, "pid": os.getpid()}
        if expires is not None:
            ev["expires"] = expires
        ev["keys"] = keys
        line = orjson.dumps(ev) + b"\n"
        view = memoryview(line)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:  # disk full, read-only: leave no partial line behind
            os.ftruncate(self._fd, self._end)
            raise LedgerError(f"cannot write the claims file {self.path}: {e.strerror}") from e
        self._apply(op, ev["owner"], keys, ev)
        self._end += len(line)
        self._lines += 1

    # --- the interface --------------------------------------------------------------------------
    def _taken(self, c: Claim, now: float, gone: dict[int, bool]) -> bool:
        """Whether ``c`` still stops others: unexpired, and its owner alive if it is on this host."""
        if c.expires <= now:
            return False
        if c.host != self.host:
            return True
        if c.pid not in gone:
            gone[c.pid] = c.pid != os.getpid() and pid_gone(c.pid)
        return not gone[c.pid]

    def acquire(self, keys: Iterable[str], lease_s: float = DEFAULT_LEASE_S) -> tuple[list[str], dict[str, Claim]]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return [], {}
        granted: list[str] = []
        held: dict[str, Claim] = {}
        with self._locked():
            now, owner, claims = self.clock(), self.owner, self._claims
            gone: dict[int, bool] = {}
            for k in keys:
                c = claims.get(k)
                if c is None or c.owner == owner or not self._taken(c, now, gone):
                    granted.append(k)
                else:
                    held[k] = c
            if granted:
                self._write("acquire", granted, now + lease_s)
                self._mine.update(granted)
            if self._lines >= self._compact_at:
                self._compact(now, gone)
        return granted, held

    def renew(self, keys: Iterable[str], lease_s: float = DEFAULT_LEASE_S) -> list[str]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return []
        with self._locked():
            owner, claims = self.owner, self._claims
            kept = [k for k in keys if (c := claims.get(k)) is not None and c.owner == owner]
            if kept:
                self._write("renew", kept, self.clock() + lease_s)
            self._mine.difference_update(set(keys).difference(kept))
        return kept

    def release(self, keys: Iterable[str]) -> None:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return
        with self._locked():
            owner, claims = self.owner, self._claims
            mine = [k for k in keys if (c := claims.get(k)) is not None and c.owner == owner]
            if mine:
                self._write("release", mine)
            self._mine.difference_update(keys)

    def held(self) -> dict[str, Claim]:
        """Every live claim by key, this owner's included: what is being sent right now."""
        with self._locked():
            now, gone = self.clock(), dict[int, bool]()
            return {k: c for k, c in self._claims.items() if self._taken(c, now, gone)}

    def close(self) -> None:
        """Release this owner's claims (so waiters go on at once) and close the file."""
        if self._fd < 0 or self._pid != os.getpid():
            return
        if self._mine:
            with suppress(OSError, LedgerError):  # a dead owner's claims are free at once anyway
                self.release(list(self._mine))
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0 and getattr(self, "_pid", -1) == os.getpid():
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"FileClaimStore({str(self.path)!r}, owner={self.owner!r})"

    # --- compaction -------------------------------------------------------------------------------
    def _compact(self, now: float, gone: dict[int, bool]) -> None:
        """Rewrite the log as its live claims once it is mostly history (the lock is held)."""
        groups: dict[tuple[str, str, int, float], list[str]] = {}
        for k, c in self._claims.items():
            if self._taken(c, now, gone):
                groups.setdefault((c.owner, c.host, c.pid, c.expires), []).append(k)
        if 4 * len(groups) > self._lines:  # mostly live: look again when it has doubled
            self._compact_at = 2 * self._lines
            return
        data = b"".join(
            orjson.dumps({"op": "acquire", "owner": o, "host": h, "pid": p, "expires": e, "keys": ks}) + b"\n"
            for (o, h, p, e), ks in groups.items()
        )
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
            new = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except OSError:
            tmp.unlink(missing_ok=True)
            self._compact_at = 2 * self._lines
            return  # compaction only saves reading time: keep the long log
        # Others move to the new file when they see the path's inode change under the old lock.
        fcntl.flock(new, fcntl.LOCK_EX)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = new
        self._claims, self._end, self._lines = {}, 0, 0
        self._compact_at = max(_COMPACT_LINES, 4 * len(groups))
        self._catch_up()  # our file again, plus any line written before we held its lock
