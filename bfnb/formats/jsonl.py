"""JSON Lines: a lossless encoding of field values, and a strict but crash-tolerant reader.

An entry must be copyable anywhere as one ``.jsonl`` line, so every value a field can hold has a
JSON form that decodes back to the same value: numpy arrays become
``{"$ndarray": {"dtype", "shape", "b64"}}``, bytes ``{"$bytes": b64}``, non-finite floats
``{"$float": "nan"}``, integers beyond 64 bits ``{"$int": "123..."}``, dicts with non-str keys
``{"$dict": [[k, v], ...]}``, Pillow images ``{"$image": {...}}`` (see :mod:`.packing`). A tag is
always a dict with exactly one key starting with ``"$"``; a user dict of that shape is wrapped as
``{"$esc": {...}}`` so that it, too, round-trips. batchfactory's packed values (``{"format":
"numpy.ndarray", "bytes": ...}`` and its kin) are read as the values they hold; a user dict of
exactly such a shape is escaped the same way.
Two documented narrowings: tuples come back as lists, and numpy scalars as Python numbers.

The reader names the file and the 1-based line of any malformed line or invalid UTF-8 byte. A torn
last line (a crash mid-append leaves one without its newline) is skipped only when the caller
says so. orjson does the parsing; lines holding no ``"$`` skip the tag walk entirely.  orjson
reads an integer beyond 64 bits as a float (silently inexact), so a line holding a run of 20 digits
is parsed again by the standard library, which keeps it exact (:func:`loads_exact`).
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import SourceError
from .atomic import atomic_open
from .seed_shapes import image_from_tag, image_tag, is_image, is_seed_packed, seed_unpack

__all__ = [
    "decode_record",
    "decode_value",
    "dumps_line",
    "encode_record",
    "encode_value",
    "loads_exact",
    "may_hold_big_int",
    "read_jsonl",
    "write_jsonl",
]

_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1
_SCALARS = (str, bool, type(None))
_TAG_TYPES = frozenset(("$ndarray", "$bytes", "$float", "$int", "$dict", "$esc", "$image"))


# 20 digits in a row: maybe an int past 2**64, which orjson makes a float.  Found by mapping every digit
# to "0" and looking for twenty zeros: two C passes, ~0.5 µs a line (a regex backtracks: ~1.7 µs).
_DIGITS_AS_ZERO = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))
_RUN = b"0" * 20


def may_hold_big_int(raw: bytes) -> bool:
    """True when ``raw`` has a run of 20 digits (an integer orjson would read as a float, or a false alarm)."""
    return _RUN in raw.translate(_DIGITS_AS_ZERO)


def loads_exact(raw: bytes, parsed: Any) -> Any:
    """``parsed`` (orjson's reading of ``raw``), or ``raw`` read again exactly when it may hold an
    integer orjson could not (beyond 64 bits).  Every JSON reader of bfnb goes through this.

    >>> loads_exact(b'{"n": 123456789012345678901234567890}', {"n": 1.2345678901234568e29})
    {'n': 123456789012345678901234567890}
    """
    if not may_hold_big_int(raw):
        return parsed
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # nesting the stdlib cannot follow: keep orjson's reading
        return parsed


def encode_value(v: Any) -> Any:
    """A JSON-able form of ``v`` that :func:`decode_value` turns back into an equal value.

    >>> encode_value({"a": b"hi", "b": (1, 2.5)})
    {'a': {'$bytes': 'aGk='}, 'b': [1, 2.5]}
    >>> encode_value({"$bytes": "not a tag"})
    {'$esc': {'$bytes': 'not a tag'}}
    """
    t = type(v)
    if t in _SCALARS:
        return v
    if t is int:
        return v if _I64_MIN <= v <= _U64_MAX else {"$int": str(v)}
    if t is float:
        return v if math.isfinite(v) else {"$float": repr(v)}
    if t is list or t is tuple:
        return v if t is list and _all_plain(v) else [encode_value(x) for x in v]
    if t is dict:
        return _encode_dict(v)
    if isinstance(v, np.ndarray):
        return _encode_ndarray(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(v).decode("ascii")}
    if isinstance(v, np.generic):
        return _encode_numpy_scalar(v)
    # Subclasses (str enums, int flags, OrderedDict, namedtuples) take the base type's form.
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return encode_value(int(v))
    if isinstance(v, float):
        return encode_value(float(v))
    if isinstance(v, Mapping):
        return _encode_dict(dict(v))
    if isinstance(v, list | tuple):
        return [encode_value(x) for x in v]
    if is_image(v):
        return image_tag(v)
    raise TypeError(
        f"cannot store a {t.__module__}.{t.__qualname__} losslessly as JSON; convert it to str, "
        "a number, a list, a dict, bytes or a numpy array first"
    )


def _all_plain(items: Iterable[Any]) -> bool:
    """True when every item is already its own JSON form (the common list of str or numbers)."""
    for x in items:
        t = type(x)
        if t is str or t is bool or x is None:
            continue
        if t is int:
            if _I64_MIN <= x <= _U64_MAX:
                continue
        elif t is float and math.isfinite(x):
            continue
        return False
    return True


def _encode_dict(d: dict[Any, Any]) -> dict[str, Any]:
    if not all(type(k) is str for k in d):
        return {"$dict": [[encode_value(k), encode_value(x)] for k, x in d.items()]}
    if "bytes" in d and is_seed_packed(d):  # would read back as the value it describes
        return {"$esc": {k: encode_value(x) for k, x in d.items()}}
    if len(d) != 1 and _all_plain(d.values()):
        return d
    out = {k: encode_value(x) for k, x in d.items()}
    if len(out) == 1 and next(iter(out)).startswith("$"):
        return {"$esc": out}
    return out


def _encode_ndarray(a: np.ndarray) -> dict[str, Any]:
    descr = np.lib.format.dtype_to_descr(a.dtype)
    if a.dtype.hasobject:
        items = [encode_value(x) for x in a.ravel(order="C").tolist()]
        return {"$ndarray": {"dtype": descr, "shape": list(a.shape), "items": items}}
    raw = np.ascontiguousarray(a).tobytes()
    b64 = base64.b64encode(raw).decode("ascii")
    return {"$ndarray": {"dtype": descr, "shape": list(a.shape), "b64": b64}}


def _encode_numpy_scalar(v: np.generic) -> Any:
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return encode_value(int(v))
    if isinstance(v, np.floating):
        return encode_value(float(v))
    if isinstance(v, np.str_):
        return str(v)
    if isinstance(v, np.bytes_):
        return encode_value(bytes(v))
    # complex, datetime64, void: exact type and value, through the array form
    out = _encode_ndarray(np.asarray(v))
    out["$ndarray"]["scalar"] = True
    return out


def decode_value(v: Any) -> Any:
    """Inverse of :func:`encode_value`.

    >>> decode_value({"$bytes": "aGk="})
    b'hi'
    >>> decode_value(encode_value({"$bytes": "x"}))
    {'$bytes': 'x'}
    """
    t = type(v)
    if t is dict:
        if len(v) == 1:
            k = next(iter(v))
            if k in _TAG_TYPES:
                return _decode_tag(k, v[k])
        elif "bytes" in v and is_seed_packed(v):
            return seed_unpack(v)
        return {k: decode_value(x) for k, x in v.items()}
    if t is list:
        return [decode_value(x) for x in v]
    return v


def _decode_tag(tag: str, body: Any) -> Any:
    if tag == "$bytes":
        return base64.b64decode(body)
    if tag == "$ndarray":
        dtype = np.lib.format.descr_to_dtype(_descr(body["dtype"]))
        shape = tuple(body["shape"])
        if "items" in body:
            arr = np.empty(len(body["items"]), dtype=dtype)
            arr[:] = [decode_value(x) for x in body["items"]]
            return arr.reshape(shape)
        # frombuffer gives a read-only view of an immutable bytes object; copy to own the data
        arr = np.frombuffer(base64.b64decode(body["b64"]), dtype=dtype).reshape(shape).copy()
        return arr[()] if body.get("scalar") else arr
    if tag == "$float":
        return float(body)
    if tag == "$int":
        return int(body)
    if tag == "$image":
        return image_from_tag(body)
    if tag == "$dict":
        return {_hashable(decode_value(k)): decode_value(x) for k, x in body}
    # "$esc": a user dict whose single key merely looks like a tag
    return {k: decode_value(x) for k, x in body.items()}


def _descr(d: Any) -> Any:
    """JSON turned the tuples of a structured dtype description into lists; restore them."""
    if isinstance(d, str):
        return d
    fields = []
    for f in d:  # (name or [title, name], descr[, shape])
        name = tuple(f[0]) if isinstance(f[0], list) else f[0]
        field = (name, _descr(f[1]))
        fields.append((*field, tuple(f[2])) if len(f) > 2 else field)
    return fields


def _hashable(k: Any) -> Any:
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k


def encode_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Encode each value of a record (the record itself is never wrapped as a tag)."""
    return {k: encode_value(v) for k, v in record.items()}


def decode_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Decode each value of a record."""
    return {k: decode_value(v) for k, v in record.items()}


def dumps_line(record: Mapping[str, Any]) -> bytes:
    """One JSONL line (with its newline) for a record.

    >>> dumps_line({"idx": "a", "rev": 0, "x": b"\\x00"})
    b'{"idx":"a","rev":0,"x":{"$bytes":"AA=="}}\\n'
    """
    return orjson.dumps(encode_record(record)) + b"\n"


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Write records as JSONL atomically; returns the number of records written."""
    n = 0
    with atomic_open(path, "wb") as f:
        for rec in records:
            f.write(dumps_line(rec))
            n += 1
    return n


def read_jsonl(
    path: str | os.PathLike[str],
    *,
    tolerate_torn_tail: bool = False,
    decode: bool = True,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line of a ``.jsonl`` file.

    A ``.json`` file holding an array of objects (or one object) is accepted too; its "line
    numbers" are then the 1-based positions in the array. Malformed lines, non-objects and
    invalid UTF-8 raise :class:`~bfnb.errors.SourceError` naming the file and line. With
    ``tolerate_torn_tail=True`` an unparseable last line that lacks its newline (a write cut
    short by a crash) is skipped instead.
    """
    p = Path(path)
    try:
        f = p.open("rb")
    except OSError as e:
        raise SourceError(f"cannot open {str(p)!r}: {e.strerror or e}") from e
    with f:
        if p.suffix.lower() == ".json":
            yield from _read_json_document(p, f.read(), decode)
            return
        offset = 0
        for lineno, line in enumerate(f, 1):
            start, offset = offset, offset + len(line)
            if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
                start += 3
            if not line.strip():
                continue
            try:
                obj = loads_exact(line, orjson.loads(line))
            except orjson.JSONDecodeError as e:
                if tolerate_torn_tail and not line.endswith(b"\n") and _at_eof(f):
                    return
                raise _line_error(p, lineno, start, line, e) from None
            if type(obj) is not dict:
                raise SourceError(f"{str(p)!r} line {lineno}: expected a JSON object, got {type(obj).__name__}")
            if decode and (b'"$' in line or b'"bytes"' in line):  # a tag, or a value packed by batchfactory
                obj = decode_record(obj)
            yield lineno, obj


def _at_eof(f: Any) -> bool:
    return f.read(1) == b""


def _line_error(p: Path, lineno: int, start: int, line: bytes, e: Exception) -> SourceError:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return SourceError(
            f"{str(p)!r} line {lineno}: invalid UTF-8 at byte offset {start + u.start} "
            f"(byte {line[u.start : u.start + 1]!r})"
        )
    snippet = line[:80].decode("utf-8", "replace").rstrip("\r\n")
    return SourceError(f"{str(p)!r} line {lineno}: malformed JSON ({e}): {snippet!r}")


def _read_json_document(p: Path, data: bytes, decode: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = loads_exact(data, orjson.loads(data))
    except orjson.JSONDecodeError as e:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as u:
            line = data.count(b"\n", 0, u.start) + 1
            raise SourceError(f"{str(p)!r} line {line}: invalid UTF-8 at byte offset {u.start}") from None
        raise SourceError(f"{str(p)!r} line {e.lineno}: malformed JSON ({e.msg})") from None
    items = doc if isinstance(doc, list) else [doc]
    for i, obj in enumerate(items, 1):
        if type(obj) is not dict:
            raise SourceError(f"{str(p)!r} item {i}: expected a JSON object, got {type(obj).__name__}")
        yield i, decode_record(obj) if decode else obj
