"""The ledger's in-memory index: key -> (offset, length, status), built without parsing JSON.

Every line of ``calls.jsonl`` starts with the record's key and status at fixed byte positions
(see :mod:`.records`).  The index is built by reading the file in 4 MB blocks, finding newlines
with numpy, gathering the 56-byte head of every line at once and checking it against that
template (byte 52 tells done from failed).  The 32 hex digits become two ``uint64`` words (a SWAR hex decode), so a million keys cost 33 bytes each (hi, lo,
offset, length, status) instead of ~150 bytes as Python objects, and sort in a tenth of a second.
A line without its newline is not a record yet (a torn tail, or a write still in progress); a
complete line whose head does not match is skipped.  No whole record is ever kept in memory.

The index has two tiers: ``main``, sorted numpy arrays searched with ``searchsorted`` (vectorised
for many keys), and ``delta``, a dict of the keys appended since the last merge.  The rule for a
key that appears on several lines is applied the same way in both: later lines win, except that a
``done`` line is never replaced by a later ``failed`` one.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .records import HEAD_SIZE, is_key

__all__ = ["Entries", "KeyIndex", "join_key", "key_words", "scan", "split_key"]

_KEY_AT = 8  # the key starts after {"key":"
_BLOCK = 1 << 22  # 4 MB: numpy's compare + nonzero run ~2x faster on blocks that fit in cache
_W0 = int.from_bytes(b'{"key":"', "little")  # bytes 0-7 of a head, as a little-endian word
_W5 = int.from_bytes(b'","statu', "little")  # bytes 40-47
_W6_DONE, _W6_FAILED = int.from_bytes(b's":"done', "little"), int.from_bytes(b's":"fail', "little")


# --- the index -------------------------------------------------------------------------------


class Entries(NamedTuple):
    """Parallel arrays, one element per line: key words, offset, length, done."""

    hi: np.ndarray  # uint64: first 16 hex digits of the key
    lo: np.ndarray  # uint64: last 16 hex digits
    off: np.ndarray  # int64: byte offset of the line
    ln: np.ndarray  # int64: length of the line, newline included
    done: np.ndarray  # bool

    @classmethod
    def empty(cls) -> Entries:
        u, i = np.empty(0, np.uint64), np.empty(0, np.int64)
        return cls(u, u, i, i, np.empty(0, bool))

    def take(self, sel: np.ndarray) -> Entries:
        return Entries(*(a[sel] for a in self))

    @classmethod
    def concat(cls, parts: Sequence[Entries]) -> Entries:
        parts = [p for p in parts if len(p.hi)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


def _words(chars: np.ndarray) -> np.ndarray:
    """(n, 32) uint8 -> (n, 4) uint64, eight characters per word, the first one on top."""
    return np.ascontiguousarray(chars).view(">u8").astype(np.uint64)


def _hex_words(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) words of lowercase hex digits -> (hi, lo) uint64 (a SWAR decode, 8 digits a word)."""
    x = (x & np.uint64(0x0F0F0F0F0F0F0F0F)) + ((x >> np.uint64(6)) & np.uint64(0x0101010101010101)) * np.uint64(9)
    x = (x | (x >> np.uint64(4))) & np.uint64(0x00FF00FF00FF00FF)
    x = (x | (x >> np.uint64(8))) & np.uint64(0x0000FFFF0000FFFF)
    x = (x | (x >> np.uint64(16))) & np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    return (x[:, 0] << s32) | x[:, 1], (x[:, 2] << s32) | x[:, 3]


_ONES, _HIGH = np.uint64(0x0101010101010101), np.uint64(0x8080808080808080)


def _all_hex(x: np.ndarray) -> np.ndarray:
    """Per row of (n, 4) ASCII words: are all 32 bytes in 0-9 or a-f?  (SWAR range tests)"""

    def within(lo: int, hi: int) -> np.ndarray:  # high bit of each byte: lo <= byte <= hi
        return (x + _ONES * np.uint64(0x80 - lo)) & ~(x + _ONES * np.uint64(0x7F - hi)) & _HIGH

    ok: np.ndarray = ((within(0x30, 0x39) | within(0x61, 0x66)) == _HIGH).all(axis=1)
    return ok


def key_words(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys -> (hi, lo, valid); a key that is not 32 lowercase hex digits is marked invalid."""
    n = len(keys)
    try:
        raw = np.array(keys, dtype="S33")  # a 33rd byte shows keys that are too long
    except (UnicodeEncodeError, TypeError, ValueError):
        raw = np.array([k if isinstance(k, str) and k.isascii() else "" for k in keys], dtype="S33")
    b = raw.view(np.uint8).reshape(n, 33)
    x = _words(b[:, :32])
    valid = (b[:, 32] == 0) & _all_hex(x)
    hi, lo = _hex_words(x)
    return hi, lo, valid


def split_key(key: str) -> tuple[int, int] | None:
    """One key -> (hi, lo) ints, or None if it is not 32 lowercase hex digits."""
    if type(key) is not str or not is_key(key):
        return None
    return int(key[:16], 16), int(key[16:], 16)


def join_key(hi: int, lo: int) -> str:
    return f"{hi:016x}{lo:016x}"


def _scan_block(a: np.ndarray, base: int, scratch: np.ndarray) -> tuple[Entries, int, int]:
    """Index the complete lines of one block: (entries, bytes consumed, lines skipped)."""
    eq = scratch[: len(a)]  # reused: a fresh 4 MB array per block costs more in page faults
    np.equal(a, 10, out=eq)
    nl = np.flatnonzero(eq)
    if not len(nl):
        return Entries.empty(), 0, 0
    starts = np.empty_like(nl)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    ln = nl + 1 - starts
    ok = (ln > HEAD_SIZE + 1) & (a[nl - 1] == 125)  # long enough, and "}" before the newline
    if not ok.all():
        starts, ln = starts[ok], ln[ok]
    if not len(starts):
        return Entries.empty(), int(nl[-1]) + 1, len(nl)
    heads = np.ndarray((len(a) - HEAD_SIZE + 1,), dtype=f"V{HEAD_SIZE}", buffer=a, strides=(1,))[starts]
    h = heads.view(np.uint8).reshape(-1, HEAD_SIZE)
    w = h.view("<u8")
    done = w[:, 6] == _W6_DONE
    good = (w[:, 0] == _W0) & (w[:, 5] == _W5) & (done | (w[:, 6] == _W6_FAILED))
    if not good.all():
        h, done, starts, ln = h[good], done[good], starts[good], ln[good]
    hi, lo = _hex_words(_words(h[:, _KEY_AT : _KEY_AT + 32]))
    skipped = len(nl) - len(starts)
    return Entries(hi, lo, starts + base, ln, done), int(nl[-1]) + 1, skipped


def scan(fd: int, start: int, stop: int) -> tuple[Entries, int, int]:
    """Index the complete lines in ``[start, stop)`` of a file.

    Returns (entries, end, skipped): ``end`` is just past the last newline found (``start`` if
    none), so a torn or still-being-written last line is left for later.
    """
    parts, pos, skipped = [], start, 0
    buf = bytearray(min(_BLOCK, max(stop - start, 0)))
    scratch = np.empty(len(buf), bool)
    while pos < stop:
        want = min(len(buf), stop - pos)
        got = os.preadv(fd, [memoryview(buf)[:want]], pos)
        if got <= 0:
            break
        a = np.frombuffer(buf, np.uint8, got)
        if len(scratch) < got:
            scratch = np.empty(got, bool)
        e, used, bad = _scan_block(a, pos, scratch)
        del a
        if used == 0:  # no newline in a whole block: a huge line, or the torn tail
            if pos + got >= stop:
                break
            buf = bytearray(len(buf) * 2)
            continue
        parts.append(e)
        skipped += bad
        pos += used
    return Entries.concat(parts), pos, skipped


def _settle(e: Entries) -> Entries:
    """One winning line per key, sorted by ``hi``: done beats failed, then the later line wins."""
    if len(e.hi) == 0:
        return e
    order = np.argsort(e.hi)
    hs = e.hi[order]
    same = hs[1:] == hs[:-1]
    if same.any():  # repeated keys (or, very rarely, two keys sharing their first 64 bits)
        grouped = np.zeros(len(hs), bool)
        grouped[1:] |= same
        grouped[:-1] |= same
        g = order[grouped]
        g = g[np.lexsort((e.off[g], e.done[g], e.lo[g], e.hi[g]))]
        last = np.ones(len(g), bool)
        last[:-1] = (e.hi[g[1:]] != e.hi[g[:-1]]) | (e.lo[g[1:]] != e.lo[g[:-1]])
        keep = np.concatenate([order[~grouped], g[last]])
        order = keep[np.argsort(e.hi[keep], kind="stable")]
    return e.take(order)


Slot = tuple[int, int, bool]  # (offset, length, done)


class KeyIndex:
    """Where the winning line of each key is: sorted arrays plus a dict of recent appends."""

    def __init__(self) -> None:
        # Readers take both tiers in one read of this tuple, so a merge in another thread never
        # shows them a half-updated index.
        self._state: tuple[Entries, dict[str, Slot]] = (Entries.empty(), {})
        self._counted: tuple[dict[str, Slot] | None, int, int] = (None, 0, 0)  # delta, seen, new keys

    def __len__(self) -> int:
        """Distinct keys.  Only keys added to the dict since the last call are looked up."""
        main, delta = self._state
        seen_delta, seen, new = self._counted
        if seen_delta is not delta:
            seen = new = 0
        if len(delta) > seen:  # a dict only grows (keys keep their place) until a merge replaces it
            fresh = list(itertools.islice(delta, seen, None))
            new += int((~self._in_main(main, fresh)).sum())
            self._counted = (delta, len(delta), new)
        return len(main.hi) + new

    # --- adding ---------------------------------------------------------------------------
    def add(self, key: str, off: int, ln: int, done: bool) -> None:
        self.add_many((key,), (off,), (ln,), (done,))

    def add_many(self, keys: Sequence[str], offs: Sequence[int], lns: Sequence[int], done: Sequence[bool]) -> None:
        main, delta = self._state
        get = delta.get
        for key, off, ln, ok in zip(keys, offs, lns, done, strict=True):
            old = get(key)
            if old is None or ok or not old[2]:
                delta[key] = (off, ln, ok)
        if len(delta) > max(1 << 17, len(main.hi) // 4):
            self.merge()

    def add_entries(self, e: Entries) -> None:
        """Add scanned lines: through the dict when few, by re-sorting when many (a first load)."""
        if len(e.hi) <= max(4096, len(self._state[0].hi) // 8):
            keys = [join_key(h, lo) for h, lo in zip(e.hi.tolist(), e.lo.tolist(), strict=True)]
            self.add_many(keys, e.off.tolist(), e.ln.tolist(), e.done.tolist())
        else:
            self.merge(e)

    def merge(self, extra: Entries | None = None) -> None:
        """Fold the dict of recent appends (and ``extra``) into the sorted arrays."""
        main, delta = self._state
        parts = [main, _delta_entries(delta)]
        if extra is not None:
            parts.append(extra)
        self._state = (_settle(Entries.concat(parts)), {})

    # --- looking up ---------------------------------------------------------------------------
    def get(self, key: str) -> Slot | None:
        main, delta = self._state
        d = delta.get(key)
        if d is not None and d[2]:
            return d
        m = _find(main, key)
        if d is None or (m is not None and m[2]):
            return m
        return d

    def get_many(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(offset or -1, length, done) arrays, one element per key."""
        main, delta = self._state
        n = len(keys)
        off, ln, done = np.full(n, -1, np.int64), np.zeros(n, np.int64), np.zeros(n, bool)
        if len(main.hi) and n:
            hi, lo, valid = key_words(keys)
            pos = np.minimum(np.searchsorted(main.hi, hi), len(main.hi) - 1)
            same_hi = valid & (main.hi[pos] == hi)
            hit = same_hi & (main.lo[pos] == lo)
            off[hit], ln[hit], done[hit] = main.off[pos[hit]], main.ln[pos[hit]], main.done[pos[hit]]
            for i in np.flatnonzero(same_hi & ~hit).tolist():  # keys sharing their first 64 bits
                m = _find(main, keys[i])
                if m is not None:
                    off[i], ln[i], done[i] = m
        if delta:
            for i, k in enumerate(keys):
                d = delta.get(k)
                if d is not None and (d[2] or not done[i]):
                    off[i], ln[i], done[i] = d
        return off, ln, done

    def _in_main(self, main: Entries, keys: list[str]) -> np.ndarray:
        if not len(main.hi):
            return np.zeros(len(keys), bool)
        hi, lo, valid = key_words(keys)
        pos = np.minimum(np.searchsorted(main.hi, hi), len(main.hi) - 1)
        found = valid & (main.hi[pos] == hi) & (main.lo[pos] == lo)
        for i in np.flatnonzero(valid & (main.hi[pos] == hi) & ~found).tolist():
            found[i] = _find(main, keys[i]) is not None
        return found  # type: ignore[no-any-return]

    # --- everything -----------------------------------------------------------------------------
    def winners(self) -> Entries:
        """The winning line of every key, in file order."""
        self.merge()
        main = self._state[0]
        return main.take(np.argsort(main.off, kind="stable"))

    def keys(self, done: bool | None = None) -> list[str]:
        self.merge()
        main = self._state[0]
        sel = main if done is None else main.take(main.done == done)
        return [join_key(h, lo) for h, lo in zip(sel.hi.tolist(), sel.lo.tolist(), strict=True)]


def _find(main: Entries, key: str) -> Slot | None:
    """One key in the sorted arrays (~2 us: this is the path of a single ``get``)."""
    his = main.hi
    if type(key) is not str or not is_key(key) or not len(his):
        return None
    v = int(key, 16)
    hi, lo = v >> 64, v & 0xFFFFFFFFFFFFFFFF
    i, n = int(his.searchsorted(np.uint64(hi))), len(his)
    while i < n and his.item(i) == hi:
        if main.lo.item(i) == lo:
            return main.off.item(i), main.ln.item(i), main.done.item(i)
        i += 1
    return None


def _delta_entries(delta: dict[str, Slot]) -> Entries:
    if not delta:
        return Entries.empty()
    hi, lo, _ = key_words(list(delta))
    slots = np.array(list(delta.values()), dtype=np.int64)  # (n, 3): offset, length, done
    return Entries(hi, lo, slots[:, 0].copy(), slots[:, 1].copy(), slots[:, 2].astype(bool))
