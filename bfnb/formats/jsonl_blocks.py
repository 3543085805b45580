"""JSONL at orjson's own speed: whole files or blocks of lines, parsed with no Python step per line.

:func:`~bfnb.formats.jsonl.read_jsonl` yields one record at a time, which costs a Python loop
iteration (and a generator switch) per line: three times orjson's own parse.  Here the bytes are
split into lines once and ``orjson.loads`` is mapped over them in C.  The records are exactly those
``read_jsonl`` gives (same tags decoded, same exact big ints, blank lines skipped, a BOM dropped),
and any line orjson refuses sends the file through ``read_jsonl``, whose error names the file and
the line.  :func:`load_jsonl` reads a whole file (ReadJsonl); :func:`iter_jsonl_blocks` reads it a
block of bytes at a time (the stream engine, in bounded memory).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import SourceError
from .jsonl import _read_json_document, decode_record, loads_exact, may_hold_big_int, read_jsonl
from .jsonl_arrow import plain_columns

__all__ = ["Plain", "iter_jsonl_blocks", "load_jsonl", "load_jsonl_plain"]

_BOM = b"\xef\xbb\xbf"
BLOCK_BYTES = 16 * 2**20


class Plain:
    """The columns of a plain block of lines (see :mod:`.jsonl_arrow`): record ``i`` is on line ``first + i``."""

    __slots__ = ("columns", "first", "n", "present")

    def __init__(self, found: tuple[dict[str, np.ndarray], dict[str, np.ndarray]], first: int) -> None:
        self.columns, self.present = found  # present: where each field some records lack is present
        self.first = first
        self.n = len(next(iter(self.columns.values())))


def _read_bytes(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot open {str(p)!r}: {e.strerror or e}") from e


def load_jsonl_plain(path: str | os.PathLike[str]) -> Plain | tuple[list[dict[str, Any]], np.ndarray | None]:
    """A whole file's columns when it is plain JSONL (one read by pyarrow), else :func:`load_jsonl`'s result."""
    p = Path(path)
    data = _read_bytes(p)
    if p.suffix.lower() != ".json":
        found = plain_columns(data[3:] if data.startswith(_BOM) else data)
        if found is not None:
            return Plain(found, 1)
    return load_jsonl(p, data)


def load_jsonl(
    path: str | os.PathLike[str], data: bytes | None = None
) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """All records of a ``.jsonl`` (or ``.json``) file, and their 1-based line numbers.

    The line numbers are None when record ``i`` is simply on line ``i + 1`` (no blank lines).
    ``data``: the file's bytes, when the caller has read them already.
    """
    p = Path(path)
    if data is None:
        data = _read_bytes(p)
    if p.suffix.lower() == ".json":
        pairs = list(_read_json_document(p, data, True))
        return [r for _, r in pairs], np.array([i for i, _ in pairs], dtype=np.int64)
    body = data[3:] if data.startswith(_BOM) else data
    lines = body.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return _parse(p, body, lines, 1)


def iter_jsonl_blocks(
    path: str | os.PathLike[str], block_bytes: int | None = None, plain: bool = False
) -> Iterator[tuple[list[dict[str, Any]], np.ndarray] | Plain]:
    """``(records, line numbers)`` of a file, a block of about ``block_bytes`` at a time.

    With ``plain``, a block of plain JSONL comes as its :class:`Plain` columns instead.
    ``block_bytes`` defaults to :data:`BLOCK_BYTES`.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    p = Path(path)
    if p.suffix.lower() == ".json":
        records, numbers = load_jsonl(p)
        yield records, numbers if numbers is not None else np.arange(1, len(records) + 1)
        return
    try:
        f = p.open("rb")
    except OSError as e:
        raise SourceError(f"cannot open {str(p)!r}: {e.strerror or e}") from e
    first, tail, start = 1, b"", True
    with f:
        while True:
            chunk = f.read(block_bytes)
            eof = not chunk
            data = tail + chunk if tail else chunk
            if not data:
                return
            if start:
                data, start = (data[3:] if data.startswith(_BOM) else data), False
            cut = data.rfind(b"\n") + 1
            if not cut and not eof:  # a line longer than a block: read on
                tail = data
                continue
            raw, tail = (data[:cut], data[cut:]) if cut else (data, b"")  # no newline at the end: the last line
            if plain and raw.startswith(b"{"):
                found = plain_columns(raw)
                if found is not None:
                    block = Plain(found, first)
                    yield block
                    first += block.n  # one record a line, checked
                    continue
            lines = raw.split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            if lines:
                try:
                    records, numbers = _parse(p, raw, lines, first)
                except SourceError:  # a bad line: give the lines before it first, as read_jsonl would
                    for i, line in enumerate(lines):
                        one, _ = _parse(p, line, [line], first + i) if line.strip() else ([], None)
                        if one:
                            yield one, np.array([first + i])
                    raise  # pragma: no cover (the bad line raised above)
                yield records, numbers if numbers is not None else np.arange(first, first + len(lines))
            first += len(lines)


def _parse(p: Path, raw: bytes, lines: list[bytes], first: int) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """The records of ``lines`` (which start at line ``first``), and the numbers of their lines if
    blank lines were skipped."""
    numbers = None
    if not all(lines) or any(map(bytes.isspace, lines)):  # blank lines: keep each other line's number
        keep = [i for i, line in enumerate(lines) if line.strip()]
        numbers = np.array(keep, dtype=np.int64) + first
        lines = [lines[i] for i in keep]
    try:
        records = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        records = None
    if records is not None and may_hold_big_int(raw):  # ints past 64 bits, exactly
        records = [loads_exact(line, r) for line, r in zip(lines, records, strict=True)]
    if records is None or (records and set(map(type, records)) != {dict}):
        for _ in read_jsonl(p):  # raises naming the file and the line
            pass
        raise AssertionError(f"{p}: orjson refused a line that read_jsonl accepts")  # pragma: no cover
    if (b"$" in raw and b'"$' in raw) or b'"bytes"' in raw:  # a tag, or a value batchfactory packed
        for i, line in enumerate(lines):  # ("$" alone is a memchr: a quick "no tag at all")
            if b'"$' in line or b'"bytes"' in line:  # read_jsonl's test, line by line
                records[i] = decode_record(records[i])
    return records, numbers
