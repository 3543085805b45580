"""How sources make idx: type-tagged content hashes, computed column-wise, and uniqueness checks.

A source without an explicit idx gives each record a 16-hex-digit hash of its own content.  The
hash is computed per column, not per row: xxh3 over each text (one C call per value), numpy for
numbers, and canonical JSON only for
containers; each value's type is mixed in (``1``, ``1.0``, ``True`` and ``"1"`` differ) and each
field's name, and the per-field hashes are summed, so a record's hash does not depend on the
order of its fields nor on the fields of other records.  The same functions give row ops a
stable per-idx random draw (``SampleProportion``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..errors import DuplicateIdxError, SourceError
from ..fingerprint import Unhashable, fingerprint, text_hashes
from ..formats.jsonl import encode_value

__all__ = [
    "HashError",
    "Where",
    "check_unique",
    "hash_records",
    "hash_values",
    "hex_ids",
    "mix",
    "obj_column",
    "objects",
    "own_idx",
    "path_ids",
    "tag",
]

_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def tag(name: str) -> np.uint64:
    """A 64-bit constant named by ``name`` (a type, a field, a kind of record)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little"))


_T = {name: tag(f"bfnb.{name}") for name in ("str", "bytes", "int", "float", "bool", "none", "json", "obj", "rec")}
_CODES: dict[type, int] = {str: 0, bytes: 1, int: 2, float: 3, bool: 4, type(None): 5, np.str_: 0, np.bool_: 4}
_CODES.update({t: 2 for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32)})
_CODES.update({t: 3 for t in (np.float16, np.float32, np.float64)})  # numpy scalars hash as Python numbers


def mix(h: np.ndarray, key: np.uint64) -> np.ndarray:
    """A bijective 64-bit mix of ``h`` keyed by ``key`` (splitmix64 finaliser)."""
    x = h ^ key
    x ^= x >> _S30
    x *= _C1
    x ^= x >> _S27
    x *= _C2
    x ^= x >> _S31
    return x


def objects(values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        return values
    return np.fromiter(values, dtype=object, count=len(values))  # never broadcasts nested lists


_CHUNK = 1 << 16


def _hash_text(arr: np.ndarray) -> np.ndarray:
    """One hash per str (or per bytes) value of a homogeneous array."""
    return text_hashes(arr)


def _canon(v: Any) -> str:
    """A type-faithful text form of a container or object value, for hashing."""
    try:
        return "j" + orjson.dumps(encode_value(v), option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        pass
    try:  # datetimes, dataclasses, UUIDs, enums
        opt = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        return f"o{type(v).__qualname__}:" + orjson.dumps(v, option=opt).decode()
    except TypeError:
        pass
    try:
        return "f" + fingerprint(v)
    except Unhashable as e:
        raise TypeError(f"cannot hash a {type(v).__name__} value to make an idx: {e}") from e


def _code(v: Any) -> int:
    return _CODES.get(type(v), 6)


def hash_values(values: Any) -> np.ndarray:
    """One type-tagged uint64 hash per value (a numpy array, a Series or a list), column-wise."""
    if isinstance(values, pd.Series | pd.Index):
        values = values.to_numpy()
    arr = values if isinstance(values, np.ndarray) and values.ndim == 1 else objects(values)
    kind = arr.dtype.kind
    if kind == "b":
        return mix(arr.astype(np.uint64), _T["bool"])
    if kind in "iu":
        return mix(pd.util.hash_array(arr.astype(np.int64)), _T["int"])
    if kind == "f":
        return mix(pd.util.hash_array(arr.astype(np.float64)), _T["float"])
    if kind != "O":
        arr = arr.astype(object)
    if pd.api.types.infer_dtype(arr, skipna=False) == "string":
        return mix(_hash_text(arr), _T["str"])
    types = set(map(type, arr))
    if len(types) == 1:  # one type (a column of ints, of floats, ...): no per-value code
        codes = np.full(len(arr), _CODES.get(types.pop(), 6), dtype=np.int8)
    else:
        codes = np.fromiter(map(_code, arr), dtype=np.int8, count=len(arr))
    if (codes == 2).any() and _int64(arr[codes == 2]) is None:
        for i in np.flatnonzero(codes == 2).tolist():  # an int past 64 bits hashes by its JSON form, alone
            if not -(2**63) <= arr[i] < 2**63:
                codes[i] = 6
    out = np.zeros(len(arr), dtype=np.uint64)
    for code in np.unique(codes).tolist():
        where = codes == code
        sub = arr[where]
        if code == 0:
            out[where] = mix(_hash_text(sub), _T["str"])
        elif code == 1:
            out[where] = mix(_hash_text(sub), _T["bytes"])
        elif code == 2:
            out[where] = hash_values(np.array(sub.tolist(), dtype=np.int64))
        elif code == 3:
            out[where] = hash_values(np.array(sub.tolist(), dtype=np.float64))
        elif code == 4:
            out[where] = hash_values(np.array(sub.tolist(), dtype=bool))
        elif code == 5:
            out[where] = _T["none"]
        else:
            texts = []
            for j, v in enumerate(sub):
                try:
                    texts.append(_canon(v))
                except TypeError as e:
                    raise HashError(str(e), int(np.flatnonzero(where)[j])) from e
            out[where] = mix(_hash_text(objects(texts)), _T["json"])
    return out


def _int64(sub: np.ndarray) -> np.ndarray | None:
    """The ints as int64, or None when one is beyond 64 bits (it is hashed by its text then)."""
    try:
        return np.array(sub.tolist(), dtype=np.int64)
    except OverflowError:
        return None


class HashError(TypeError):
    """A value that cannot be hashed into an idx; ``position`` is its row, ``field`` its field."""

    def __init__(self, message: str, position: int, field: str | None = None) -> None:
        super().__init__(message)
        self.position, self.field = position, field


def hash_records(columns: Mapping[str, Any], present: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """One hash per record from its field columns; independent of field order.

    ``present[k]`` (optional) marks the records that have field ``k`` at all: an absent field
    contributes nothing, so a record's hash never depends on the fields of other records.
    """
    total: np.ndarray | None = None
    for name, vals in columns.items():
        try:
            h = mix(hash_values(vals), tag(f"bfnb.key:{name}"))
        except HashError as e:
            e.field = name
            raise
        if present is not None and name in present:
            h[~present[name]] = 0
        total = h if total is None else total + h
    if total is None:
        raise ValueError("cannot hash records with no fields")
    return mix(total, _T["rec"])


def hex_ids(h: np.ndarray) -> list[str]:
    """16-hex-digit strings for uint64 hashes."""
    if len(h) > _CHUNK:  # bounded temporaries
        out: list[str] = []
        for i in range(0, len(h), _CHUNK):
            out.extend(hex_ids(h[i : i + _CHUNK]))
        return out
    text = h.astype(">u8").tobytes().hex().encode("utf-32-le")
    return np.frombuffer(text, dtype="<U16").tolist()


class Where(Sequence[str]):
    """Row descriptions built only when an error needs one (a million f-strings would cost)."""

    def __init__(self, n: int, fn: Callable[[int], str]) -> None:
        self._n, self._fn = n, fn

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        return self._fn(int(i))


def check_unique(keys: Any, where: Sequence[str], op: Any, idx: Sequence[str], why: str = "") -> None:
    """DuplicateIdxError naming both records when two ``keys`` are equal (keys: hashes or idx)."""
    index = pd.Index(keys)
    if index.is_unique:
        return
    pos = np.flatnonzero(index.duplicated(keep=False))
    first = index[pos[0]]
    a, b = [int(p) for p in pos if index[p] == first][:2]
    reason = why or "share one idx; give them distinct content or an explicit idx"
    raise DuplicateIdxError(f"{where[a]} and {where[b]} {reason}", op=op, idx=idx[a])


def obj_column(arr: np.ndarray) -> pd.Series:
    """An object array as a Series that ``batch.column`` keeps as objects (pandas 3 would infer ``str``)."""
    return pd.Series(arr, dtype=object, copy=False)


def path_ids(parts: list[list[Any]], kind: str) -> list[str]:
    """idx from a list of [rel path, headings..., text] per record (one JSON text each)."""
    texts = objects([orjson.dumps(p).decode() for p in parts])
    return hex_ids(mix(hash_values(texts), tag(f"bfnb.{kind}")))


def own_idx(values: Sequence[Any], present: Sequence[bool], where: Sequence[str], op: Any) -> list[str | None]:
    """The rule for a record's own ``idx``, the same in every source (JSONL, Parquet, FromList).

    A record without an ``idx`` field gets ``None`` here (the source then hashes its content).  A
    record with one must hold a non-empty str, or an int (kept as its decimal text): ``null``, a
    float, a bool, a list or a dict is refused, naming the record, because silently hashing it
    instead would give the record another identity than the one written in the file.
    """
    out: list[str | None] = []
    for i, (v, has) in enumerate(zip(values, present, strict=True)):
        if not has:
            out.append(None)
        elif type(v) is str and v:
            out.append(v)
        elif type(v) is int or isinstance(v, np.integer):
            out.append(str(int(v)))
        else:
            shown = "null" if v is None else f"{v!r} ({type(v).__name__})"
            raise SourceError(
                f"{where[i]} has an unusable 'idx' {shown}: an idx is a non-empty string or an integer; "
                f"fix or remove it (without one the record's content is hashed)",
                op=op, field="idx",
            )  # fmt: skip
    return out
