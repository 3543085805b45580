"""The project's call ledger: an append-only JSONL file of every expensive call, and its index.

A completed call is durable the moment ``append`` returns (see :mod:`.appendlog`): its line is
written with one ``os.write`` on an ``O_APPEND`` descriptor while an exclusive ``flock`` is held, so two processes
appending to one project never interleave, and a crash or ``kill -9`` loses only calls in flight
(the data is in the OS; pass ``fsync=True`` to survive a power cut as well).  A newline ends every
record and is what makes it count: a writer killed mid-line leaves a torn tail that loading skips
and the next ``append`` truncates, under the lock, before it writes.  Bytes before the last newline
are never changed again, which is what lets readers scan without holding the lock.

Loading builds :class:`~bfnb.ledger.index.KeyIndex` from the key and status at the start of each
line without parsing JSON; lookups read and parse only the lines they need.  Another process's
appends become visible through :meth:`Ledger.refresh`, which ``get`` and ``get_many`` call on a
miss (one ``fstat`` when nothing changed).
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import LedgerError
from .appendlog import AppendLog, warn_damaged
from .claims import CLAIMS_FILE, ClaimStore, FileClaimStore
from .frame import records_frame, tally
from .index import KeyIndex, scan
from .records import RECORD_FIELDS, CallRecord, Status, decode, encode, to_record, usage_at

if TYPE_CHECKING:
    import pandas as pd

    from .origins import Origins

__all__ = ["CALLS_FILE", "Ledger"]

CALLS_FILE = "calls.jsonl"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while parsing many records.

    Each record makes a handful of dicts and lists; with the GC on, its collections rescan every
    live object again and again, which makes a bulk parse 3-4x slower.  Nothing parsed here
    forms a cycle.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_new = object.__new__


class Ledger:
    """The durable cache of a project's expensive calls, in the folder ``path``.

    Parameters
    ----------
    path
        Folder holding ``calls.jsonl`` (and ``origins.jsonl``); created if missing.
    fsync
        Flush every append to disk, not only to the OS (survives a power cut; slower).
    claims
        Where claims on keys being sent are kept (:attr:`claims`); default a
        :class:`~bfnb.ledger.claims.FileClaimStore` on ``claims.jsonl`` in ``path``.

    Examples
    --------
    >>> with Ledger(folder) as ledger:                          # doctest: +SKIP
    ...     ledger.append(record)
    ...     ledger.get(record.key).status
    'done'
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, claims: ClaimStore | None = None) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise LedgerError(f"a ledger is a folder, but {self.path} is a file")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LedgerError(f"cannot create the ledger folder {self.path}: {e.strerror}") from e
        self.fsync = fsync
        self._log = AppendLog(self.path / CALLS_FILE)
        self._lock = threading.RLock()
        self._index = KeyIndex()
        self._end = 0  # every complete line before this offset is indexed
        self._torn_size = -1
        self.skipped_lines = 0  # complete lines that were not records (corruption)
        self._stats: tuple[int, dict[str, Any]] | None = None
        self._damaged: set[int] = set()  # offsets of unreadable lines already warned about
        self._origins: Origins | None = None
        self._claims = claims
        self.refresh()

    # --- writing ----------------------------------------------------------------------------
    def append(self, record: CallRecord | Mapping[str, Any], *, fsync: bool | None = None) -> None:
        """Store one finished call; it is on disk (in the OS) when this returns."""
        self.append_many([record], fsync=fsync)

    def append_many(self, records: Iterable[CallRecord | Mapping[str, Any]], *, fsync: bool | None = None) -> int:
        """Store several finished calls with one write; returns how many."""
        lines, keys, done, lens = [], [], [], []
        for r in records:
            line, key, ok = encode(r if isinstance(r, CallRecord) else CallRecord.from_dict(dict(r)))
            lines.append(line)
            keys.append(key)
            done.append(ok)
            lens.append(len(line))
        if not lines:
            return 0
        data = b"".join(lines)
        with self._lock:
            at = self._log.append(data, self._end, fsync=self.fsync if fsync is None else fsync)
            if at > self._end:  # other processes appended since we last looked
                self._ingest(self._end, at)
            elif at < self._end:  # the file shrank under us (not by bfnb): start over
                self._reset()
                self._ingest(0, at)
            offs = np.cumsum([at, *lens[:-1]]).tolist()
            self._index.add_many(keys, offs, lens, done)
            self._end = at + len(data)
        return len(lines)

    # --- reading ----------------------------------------------------------------------------
    def refresh(self) -> int:
        """Index lines other processes appended since the last look; returns how many."""
        size = self._log.size()
        if size == self._end or size == self._torn_size:
            return 0
        with self._lock:
            if size < self._end:
                self._reset()
            end = self._log.complete_end(self._end)
            self._torn_size = size if end < size else -1  # an unfinished last line: skip until it grows
            return self._ingest(self._end, end) if end > self._end else 0

    def _ingest(self, start: int, stop: int) -> int:
        entries, end, skipped = scan(self._log.fd, start, stop)
        self._index.add_entries(entries)
        self.skipped_lines += skipped
        if skipped:
            warn_damaged(self._log.path, skipped, "skipped")
        self._end = end
        return len(entries.hi)

    def _reset(self) -> None:
        self._index, self._end, self.skipped_lines, self._damaged = KeyIndex(), 0, 0, set()

    def _slot(self, key: str) -> tuple[int, int, bool] | None:
        slot = self._index.get(key)
        if slot is None and self.refresh():
            slot = self._index.get(key)
        return slot

    def get(self, key: str) -> CallRecord | None:
        """The record of ``key`` (its done record if it has one), or None."""
        slot = self._slot(key)
        if slot is None:
            return None
        d = decode(next(self._log.lookup_lines((slot[0],), (slot[1],), self._end)))
        if d is None:
            self._unreadable([slot[0]])
            return None
        return to_record(d)

    def get_many(self, keys: Sequence[str], *, refresh: bool | None = None) -> list[CallRecord | None]:
        """The records of ``keys`` (None where missing), in the order asked.

        ``refresh`` says when to read what other processes appended since the last look (only
        the new tail is read; one ``fstat`` when nothing changed): None (default) when a key is
        missing, True always (a done record may have replaced a failed one: the call client's
        check right before it sends), False never.
        """
        keys = list(keys)
        if refresh:
            self.refresh()
        off, ln, _ = self._index.get_many(keys)
        if refresh is None and (off < 0).any() and self.refresh():
            off, ln, _ = self._index.get_many(keys)
        out: list[CallRecord | None] = [None] * len(keys)
        found = np.flatnonzero(off >= 0)
        order = found[np.argsort(off[found], kind="stable")]
        offs = off[order].tolist()
        lines = self._log.lookup_lines(offs, ln[order].tolist(), self._end)
        bad = []
        with _gc_paused():
            for i, o, line in zip(order.tolist(), offs, lines, strict=True):
                d = decode(line)
                if d is None:
                    bad.append(o)
                elif d.keys() == RECORD_FIELDS:  # to_record's fast path, inlined: 20k records a re-run
                    rec = _new(CallRecord)
                    rec.__dict__ = d
                    out[i] = rec
                else:
                    out[i] = to_record(d)
        if bad:
            self._unreadable(bad)
        return out

    def _unreadable(self, offsets: list[int]) -> None:
        """Warn, once per line, about indexed lines whose JSON is damaged."""
        new = [o for o in offsets if o not in self._damaged]
        if new:
            self._damaged.update(new)
            warn_damaged(self._log.path, len(new), "could not be read")

    def status(self, key: str) -> str | None:
        """``"done"``, ``"failed"`` or None (never asked, or not finished)."""
        slot = self._slot(key)
        return None if slot is None else (Status.DONE if slot[2] else Status.FAILED)

    def done_keys_mask(self, keys: Sequence[str]) -> list[bool]:
        """For each key, whether a done record exists (from the index alone)."""
        self.refresh()
        off, _, done = self._index.get_many(list(keys))
        mask: list[bool] = (done & (off >= 0)).tolist()
        return mask

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._slot(key) is not None

    def __len__(self) -> int:
        """Number of distinct keys."""
        self.refresh()
        return len(self._index)

    def failed_keys(self) -> list[str]:
        """Keys whose calls failed and never succeeded, in no particular order."""
        self.refresh()
        with self._lock:
            return self._index.keys(done=False)

    def keys(self) -> list[str]:
        self.refresh()
        with self._lock:
            return self._index.keys()

    def _winner_blocks(self) -> Iterator[tuple[int, bytes, list[int], list[int], list[bool]]]:
        """The file in blocks (offset, block), with the start, length and done flag of the winning lines in each."""
        with self._lock:
            w, end = self._index.winners(), self._end
        for start, block in self._log.blocks(0, end):
            lo, hi = np.searchsorted(w.off, [start, start + len(block)])
            yield start, block, (w.off[lo:hi] - start).tolist(), w.ln[lo:hi].tolist(), w.done[lo:hi].tolist()

    def record_chunks(self) -> Iterator[list[dict[str, Any]]]:
        """Every key's record as a dict, in file order, a few thousand at a time."""
        self.refresh()
        for at, block, starts, lns, _ in self._winner_blocks():
            with _gc_paused():
                out = [decode(block[s : s + n]) for s, n in zip(starts, lns, strict=True)]
            if None in out:
                self._unreadable([at + s for s, d in zip(starts, out, strict=True) if d is None])
                out = [d for d in out if d is not None]
            yield out  # type: ignore[misc]

    def stats(self) -> dict[str, Any]:
        """Counts by status, tokens and known cost over distinct keys.

        Reads the usage numbers at the start of each key's line, without parsing JSON (about 3 s
        for a million calls on a slow machine); the answer is kept until the ledger grows.
        """
        self.refresh()
        if self._stats is not None and self._stats[0] == self._end:
            return dict(self._stats[1])
        end, done, rows = self._end, list[bool](), list[tuple[bytes, bytes, bytes]]()
        for _, block, starts, lns, flags in self._winner_blocks():
            got = usage_at(block, starts)
            for i in [i for i, r in enumerate(got) if r is None]:  # another layout: parse it whole
                d = decode(block[starts[i] : starts[i] + lns[i]]) or {}
                tin, tout, cost = d.get("input_tokens") or 0, d.get("output_tokens") or 0, d.get("cost_usd")
                got[i] = (b"%d" % tin, b"%d" % tout, b"null" if cost is None else repr(cost).encode())
            done += flags
            rows += got  # type: ignore[arg-type]  # every None was filled in above
        out = tally(done, rows)
        self._stats = (end, out)
        return dict(out)

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with one row per key (its winning record), in the order calls finished.

        Its columns are exactly :data:`bfnb.ledger.frame.COLUMNS`, in this order: ``key``,
        ``status``, ``kind``, ``provider``, ``model``, ``input_tokens``, ``output_tokens``,
        ``total_tokens``, ``cost_usd`` (NaN: price unknown), ``attempts``, ``error``, ``t_sent``,
        ``t_done`` (Unix seconds), ``batch``, ``origin_op``, ``origin_idx``, ``request``,
        ``response`` (dicts).  See :mod:`bfnb.ledger.frame` for their types.
        """
        return records_frame(self.record_chunks())

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        """Whether records can be appended (False: a read-only file; the call client refuses to send)."""
        return bool(self._log.writable)

    @property
    def claims(self) -> ClaimStore:
        """Claims on the keys being sent now, shared by every process on this ledger.

        See :mod:`bfnb.ledger.claims`: ``acquire(keys, lease_s)`` before sending, ``renew``
        while waiting, ``release`` once the record is appended.
        """
        if self._claims is None:
            with self._lock:
                if self._claims is None:
                    self._claims = FileClaimStore(self.path / CLAIMS_FILE)
        return self._claims

    @property
    def origins(self) -> Origins:
        """The log of which op entries asked for which keys (see :mod:`bfnb.ledger.origins`)."""
        if self._origins is None:
            from .origins import Origins

            self._origins = Origins(self.path)
        return self._origins

    def close(self) -> None:
        with self._lock:
            self._log.close()
            if self._claims is not None:
                self._claims.close()
            if self._origins is not None:
                self._origins.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r}, {len(self._index)} calls)"
