"""What file sources share: resolving globs, the files' fingerprint, reader options, record columns.

A file source's fingerprint is each file's path (relative to the glob's fixed part, so it does not
depend on the working directory), size and mtime: editing a file makes the next run re-read it,
and an unchanged file is served from the in-kernel memo.  Reader options (``shuffle``, ``seed``,
``offset``, ``max_count``) apply after reading, deterministically.
"""

from __future__ import annotations

import glob as _glob
import itertools
import operator
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import batch as B
from ..errors import PathError, SourceError
from ..fingerprint import combine
from ..project import check_name
from ._idx import Where, obj_column, objects, own_idx
from .op import SourceOp, key_list

__all__ = [
    "FileSource",
    "RecordFiles",
    "arrow_rules",
    "columns_of_records",
    "glob_base",
    "idx_from_key",
    "rel_name",
    "resolve_files",
    "rev_of",
    "select",
    "typed",
]


def select(df: pd.DataFrame, shuffle: bool, seed: Any, offset: int, max_count: int | None) -> pd.DataFrame:
    """The reader options, applied after reading: optional shuffle, then [offset, offset + max_count)."""
    if shuffle and len(df) > 1:
        df = df.iloc[np.random.default_rng(seed).permutation(len(df))]
    if offset or max_count is not None:
        end = None if max_count is None else offset + max_count
        df = df.iloc[offset:end]
    return df


def resolve_files(glob_str: Any, op: Any) -> list[Path]:
    """The files a glob (or a plain path) names, sorted; SourceError when there are none."""
    text = os.fspath(glob_str)
    check_name(text, "file path", op=op)
    if _glob.has_magic(text):
        found = sorted(p for p in _glob.glob(text, recursive=True) if os.path.isfile(p))
        if not found:
            raise SourceError(f"no file matches {text!r}", op=op)
        for p in found:  # a name that is not UTF-8 (bytes os gives back as lone surrogates) cannot be a field
            if not p.isascii():
                try:
                    p.encode("utf-8")
                except UnicodeEncodeError:
                    raise PathError(f"the file name {p!r} is not valid UTF-8; rename the file", op=op) from None
        return [Path(p) for p in found]
    if not os.path.isfile(text):
        if os.path.isdir(text):
            what = "is a directory, not a file"
        elif os.path.exists(text):
            what = "is not a regular file (a device, pipe or socket); give the path of a file"
        else:
            what = "does not exist"
        raise SourceError(f"{text!r} {what}", op=op)
    return [Path(text)]


def glob_base(glob_str: Any) -> Path:
    """The directory a glob is relative to: its leading parts without wildcards."""
    text = os.fspath(glob_str)
    if not _glob.has_magic(text):
        return Path(text).parent
    parts = Path(text).parts
    n = next(i for i, p in enumerate(parts) if _glob.has_magic(p))
    return Path(*parts[:n]) if n else Path(".")


def rel_name(path: Path, base: Path) -> str:
    """The path relative to the glob base ("/"-separated): idx input that ignores cwd and absolute paths."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


class FileSource(SourceOp):
    """Base of file readers: the glob, the reader options, the files' fingerprint."""

    preserves_idx = True  # each reader checks its idx itself, naming both records

    glob_str: Any

    def _reader_options(self, shuffle: bool, seed: Any, offset: int, max_count: int | None) -> None:
        if offset < 0 or (max_count is not None and max_count < 0):
            raise ValueError("offset and max_count must be >= 0")
        self.shuffle, self.seed, self.offset, self.max_count = shuffle, seed, offset, max_count

    def files(self) -> list[Path]:
        return resolve_files(self.glob_str, self)

    def extra_fingerprint(self) -> str:
        """Each file's relative path, size and mtime.  A missing file is reported by ``read``
        (a graph's repr or plan must not raise); its marker is never memoised."""
        base = glob_base(self.glob_str)
        parts = []
        try:
            for p in self.files():
                st = p.stat()
                parts.append(f"{rel_name(p, base)}|{st.st_size}|{st.st_mtime_ns}")
        except (SourceError, OSError) as e:
            return combine("unreadable", str(e))
        return combine("files", *parts)

    def finish(self, df: pd.DataFrame) -> pd.DataFrame:
        return select(df, self.shuffle, self.seed, self.offset, self.max_count)


def typed(vals: list[Any]) -> Any:
    """A column: typed when every value is int, or every value float, or every value bool."""
    if vals:
        t = type(vals[0])
        if t in (int, float, bool) and set(map(type, vals)) == {t}:
            try:
                return np.array(vals, dtype=np.int64 if t is int else t)
            except OverflowError:
                pass
    return obj_column(objects(vals))


def columns_of_records(records: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Field columns (absent → None) and, for fields some records lack, where they are present."""
    # C-level passes (map over the records) instead of a Python loop per record and key
    n = len(records)
    first = list(records[0]) if n else []
    everywhere = bool(n) and set(map(len, records)) == {len(first)}
    everywhere = everywhere and all(all(map(operator.contains, records, itertools.repeat(k, n))) for k in first)
    names = first if everywhere else list(dict.fromkeys(itertools.chain.from_iterable(records)))  # first-seen order
    columns: dict[str, list[Any]] = {}
    present: dict[str, np.ndarray] = {}
    for k in names:
        if k in (B.IDX, B.REV):
            continue
        if everywhere:
            columns[k] = list(map(operator.itemgetter(k), records))
            continue
        has = np.fromiter(map(operator.contains, records, itertools.repeat(k, n)), dtype=bool, count=n)
        columns[k] = [r.get(k) for r in records]
        if not has.all():
            present[k] = has
    return columns, present


def rev_of(records: Sequence[Mapping[str, Any]], op: Any = None, where: Any = None) -> Any:
    """The records' ``rev`` values (0 where absent); ``rev`` is reserved for an int revision."""
    if not any(map(operator.contains, records, itertools.repeat(B.REV))):
        return 0
    out = [r.get(B.REV, 0) for r in records]
    for i, v in enumerate(out):
        if type(v) is not int:
            at = where[i] if where is not None else f"record {i}"
            raise SourceError(
                f"{at}: 'rev' is reserved for the entry's revision (an int), got {v!r}", op=op, field=B.REV
            )
    return out


def _inexact(t: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_decimal(t):
        return True
    return any(_inexact(t.field(i).type) for i in range(t.num_fields)) if t.num_fields else False


def arrow_rules(table: Any, path: Path, op: Any, use_own_idx: bool) -> Any:
    """A Parquet table checked by the rules every source follows: no column of a type bfnb cannot
    carry exactly (decimals: refused, naming the column and the fix), and an own ``idx`` column by
    :func:`~bfnb.op._idx.own_idx` (integers become their text; null is refused)."""
    import pyarrow as pa

    for field in table.schema:
        if _inexact(field.type):
            raise SourceError(
                f"{str(path)!r}: column {field.name!r} is {field.type}, which bfnb does not read (a decimal "
                f"would lose its exactness as a float); cast it to string (exact) or float64 and write the file again",
                op=op, field=field.name,
            )  # fmt: skip
    if use_own_idx and B.IDX in table.column_names:
        col = table.column(B.IDX)
        if not pa.types.is_string(col.type) or col.null_count:
            vals = col.to_pylist()
            ids = own_idx(vals, [True] * len(vals), Where(len(vals), lambda i: f"{path} row {i + 1}"), op)
            table = table.set_column(table.column_names.index(B.IDX), B.IDX, pa.array(ids, pa.string()))
    return table


def idx_from_key(vals: Sequence[Any], idx_key: str, where: Sequence[str], op: Any) -> list[str]:
    out = []
    for i, v in enumerate(vals):
        if v is None or v == "" or isinstance(v, (list, dict, bytes, float)):
            what = "has no" if v is None else f"has an unusable ({v!r})"
            raise SourceError(f"{where[i]} {what} {idx_key!r} field to use as idx", op=op, field=idx_key)
        out.append(v if type(v) is str else str(v))
    return out


class RecordFiles(FileSource):
    """Readers of record files: ``keys`` projection, ``idx_key`` or ``hash_keys``."""

    def __init__(
        self,
        glob_str: Any,
        keys: str | Sequence[str] | None = None,
        *,
        idx_key: str | None = None,
        hash_keys: str | Sequence[str] | None = None,
        shuffle: bool = False,
        seed: Any = 42,
        offset: int = 0,
        max_count: int | None = None,
        fire_once: bool = True,
    ) -> None:
        if idx_key is not None and hash_keys is not None:
            raise ValueError("give idx_key or hash_keys, not both")
        self.glob_str, self.keys = glob_str, key_list(keys) if keys is not None else None
        self.idx_key, self.hash_keys = idx_key, key_list(hash_keys) if hash_keys is not None else None
        self._reader_options(shuffle, seed, offset, max_count)
