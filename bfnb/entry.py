"""Entry: one row as a Python object, the seed's first concept (``bf.Entry``).

bfnb works on whole batches (pandas DataFrames indexed by ``idx``), but code written for
batchfactory reads results entry by entry: ``e.idx``, ``e.rev``, ``e.data["text"]``. An
``Entry`` is that row: an immutable string ``idx``, an int ``rev`` (loop passes) and a mutable
``data`` dict (plus the seed's unused ``meta``). ``OutputEntries`` returns a list of them,
``FromList`` accepts them, and a plain dict is one call away (:meth:`Entry.to_dict`).

Why a small class rather than the seed's dataclass: ``idx`` must not change once an entry exists
(caches, merges and spawned children are keyed by it), so it is a read-only property; the rest
behaves as the seed's dataclass did (positional ``Entry(idx, rev, data, meta)``, equality by
value, a short repr).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Entry", "entries_from_records"]

_IDX, _REV = "idx", "rev"


class Entry:
    """A row: immutable ``idx``, ``rev`` (loop passes), mutable ``data`` (and the seed's ``meta``).

    >>> e = Entry("a1", 0, {"text": "hi"})
    >>> e.data["text"] = "hello"
    >>> e.to_dict()
    {'idx': 'a1', 'rev': 0, 'text': 'hello'}
    >>> e.idx = "b"
    Traceback (most recent call last):
    ...
    AttributeError: an Entry's idx is immutable (it keys caches, merges and spawned children)
    """

    __slots__ = ("_idx", "_meta", "data", "rev")

    def __init__(
        self, idx: str, rev: int = 0, data: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None
    ) -> None:
        if not isinstance(idx, str) or not idx:
            raise TypeError(f"an Entry's idx must be a non-empty str, got {idx!r}")
        if isinstance(rev, bool) or not isinstance(rev, int):
            raise TypeError(f"an Entry's rev must be an int, got {rev!r}")
        self._idx = idx
        self.rev = int(rev)
        self.data: dict[str, Any] = dict(data) if data is not None else {}
        self._meta: dict[str, Any] | None = dict(meta) if meta else None

    @property
    def idx(self) -> str:
        return self._idx

    @idx.setter
    def idx(self, value: Any) -> None:
        raise AttributeError("an Entry's idx is immutable (it keys caches, merges and spawned children)")

    @property
    def meta(self) -> dict[str, Any]:
        """The seed's metadata dict (made on first use: most entries never need one)."""
        if self._meta is None:
            self._meta = {}
        return self._meta

    @meta.setter
    def meta(self, value: Mapping[str, Any]) -> None:
        self._meta = dict(value)

    # --- conversions ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{"idx": ..., "rev": ..., <field>: <value>, ...}``, the row as bfnb's tables show it."""
        return {_IDX: self._idx, _REV: self.rev, **self.data}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Entry:
        """The inverse of :meth:`to_dict`: ``idx`` and ``rev`` keys, the rest is data.

        The seed's ``{"idx": ..., "rev": ..., "data": {...}}`` shape is accepted too.
        """
        if _IDX not in record:
            raise KeyError(f"a record needs an 'idx' key to become an Entry; keys: {sorted(record)}")
        if isinstance(record.get("data"), Mapping) and set(record) <= {_IDX, _REV, "data", "meta"}:
            return cls(record[_IDX], record.get(_REV, 0), record["data"], record.get("meta"))
        data = {k: v for k, v in record.items() if k not in (_IDX, _REV)}
        return cls(record[_IDX], record.get(_REV, 0), data)

    # --- value semantics -----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return (self._idx, self.rev, self.data, self._meta or {}) == (
            other._idx,
            other.rev,
            other.data,
            other._meta or {},
        )

    __hash__ = None  # type: ignore[assignment]  # mutable data: not hashable, as the seed's dataclass

    def __repr__(self) -> str:
        fields = ", ".join(f"{k!r}: {_short(v)}" for k, v in self.data.items())
        return f"Entry(idx={self._idx!r}, rev={self.rev}, data={{{fields}}})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Entry, (self._idx, self.rev, self.data, self._meta))


def _short(v: Any, limit: int = 50) -> str:
    """The seed's repr rules, roughly: lists show 3 items, other values up to ``limit`` characters."""
    if isinstance(v, list) and len(v) > 3:
        return "[" + ", ".join(_short(x, 20) for x in v[:3]) + f", ... ({len(v)} items)]"
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def entries_from_records(records: Iterable[Mapping[str, Any]]) -> list[Entry]:
    """Entries from records that carry ``idx`` and ``rev`` (as ``batch.to_records`` gives them)."""
    out = []
    for r in records:
        data = dict(r)
        out.append(make_entries([str(data.pop(_IDX))], [int(data.pop(_REV, 0))], [data])[0])
    return out


def make_entries(idxs: list[str], revs: list[int], datas: list[dict[str, Any]]) -> list[Entry]:
    """Entries from a batch's columns, skipping the constructor's checks (a batch's idx and rev are
    valid already); it is on the path of every ``OutputEntries`` run, so it only sets four slots."""
    import gc

    new = Entry.__new__
    out: list[Entry] = []
    append = out.append
    enabled = gc.isenabled()
    gc.disable()  # a million new container objects would trigger full collections over them: 5x slower
    try:
        for ix, rv, data in zip(idxs, revs, datas, strict=True):
            e = new(Entry)
            e._idx, e.rev, e.data, e._meta = ix, rv, data, None
            append(e)
    finally:
        if enabled:
            gc.enable()
    return out
