"""Sources: ops that make a batch from files (JSONL, Parquet, markdown, text); FromList is in :mod:`.fromlist`.

Every entry gets a deterministic, unique idx: an explicit one (an ``idx`` key, ``idx_key=``) or a
16-hex-digit type-tagged content hash of the record alone (see :mod:`._idx`), so adding a record
never changes another's idx; two records with one idx are an error naming both.  A source's
fingerprint covers its input (:meth:`extra_fingerprint`: each file's size and mtime), so the
in-kernel memo never serves stale data.  Reader options ``shuffle/seed/offset/max_count`` apply
after reading.
"""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import batch as B
from ..convert import batch_from_arrow
from ..errors import SourceError
from ..formats.jsonl_blocks import Plain, load_jsonl, load_jsonl_plain
from ._files import (
    FileSource,
    RecordFiles,
    arrow_rules,
    columns_of_records,
    glob_base,
    idx_from_key,
    rel_name,
    resolve_files,
    rev_of,
    typed,
)
from ._idx import (
    Where,
    check_unique,
    hash_records,
    hex_ids,
    obj_column,
    objects,
    own_idx,
    path_ids,
)
from .fromlist import FromList
from .op import RunContext

__all__ = [
    "FromList",  # re-exported from .fromlist
    "ReadJsonl",
    "ReadMarkdownEntries",
    "ReadMarkdownLines",
    "ReadParquet",
    "ReadTxtFolder",
]

# --- JSONL and Parquet ------------------------------------------------------------------------------


class ReadJsonl(RecordFiles):
    """Records of ``.jsonl`` files (and ``.json`` arrays or objects).

    idx: the ``idx_key`` field; else a hash of the ``hash_keys`` fields; else the record's own
    ``idx`` (files written by WriteJsonl, whose ``rev`` is kept too); else a hash of the whole
    record.  ``keys`` projects each record to those fields (a field a record lacks is None).
    """

    def read(self, ctx: RunContext) -> pd.DataFrame:
        files = self.files()
        try:
            loaded = [load_jsonl_plain(path) for path in files]
        except SourceError as e:
            raise SourceError(e.message, op=self) from e
        plain = _same_plain(loaded)
        if plain is not None:  # every file plain, alike: columns straight from pyarrow
            sizes = list(itertools.accumulate((p.n for p in loaded if isinstance(p, Plain)), initial=0))
            where = Where(sizes[-1], lambda i: _at(files, sizes, None, i))
            return self.finish(self.batch_of_columns(plain[0], where, plain[1])[0])
        records: list[dict[str, Any]] = []
        starts: list[int] = [0]
        numbers: list[np.ndarray | None] = []
        for path, got in zip(files, loaded, strict=True):
            try:
                recs, nums = load_jsonl(path) if isinstance(got, Plain) else got
            except SourceError as e:
                raise SourceError(e.message, op=self) from e
            records = recs if not records else records + recs
            starts.append(len(records))
            numbers.append(nums)
        return self.finish(self.batch_of(records, Where(len(records), lambda i: _at(files, starts, numbers, i))))

    def batch_of(self, records: list[dict[str, Any]], where: Sequence[str]) -> pd.DataFrame:
        """The batch of parsed records (idx, rev, ``keys``), before the reader options; engines reuse it."""
        return self.batch_and_keys(records, where)[0]

    def batch_and_keys(self, records: list[dict[str, Any]], where: Sequence[str]) -> tuple[pd.DataFrame, Any]:
        """:meth:`batch_of`, and the keys its idx were checked by: the uint64 content hashes (each
        idx is their 16 hex digits) when every idx is a hash, else the idx themselves."""
        n = len(records)
        columns, present = columns_of_records(records)
        ids, keys = self._ids(records, columns, present, where)
        rev = rev_of(records, self, where)
        if self.keys is not None:
            columns = {k: columns.get(k, [None] * n) for k in self.keys if k not in (B.IDX, B.REV)}
        check_unique(keys, where, self, ids)
        if not n:
            return B.empty(self.keys or []), keys
        batch = B.from_columns(ids, {k: typed(v) for k, v in columns.items()}, rev, op=self, check_unique=False)
        return batch, keys

    def batch_of_columns(
        self, columns: dict[str, np.ndarray], where: Sequence[str], present: dict[str, np.ndarray] | None = None
    ) -> tuple[pd.DataFrame, Any]:
        """The batch of plain columns (none named idx or rev; ``present`` marks where a field some
        records lack is present, None elsewhere in its column), as :meth:`batch_of` makes it from
        the same records: same idx, same values, same types; and its keys, as
        :meth:`batch_and_keys` gives them."""
        n = len(where)
        present = present or {}
        if self.idx_key is not None:
            vals = columns[self.idx_key].tolist() if self.idx_key in columns else [None] * n
            ids = idx_from_key(vals, self.idx_key, where, self)
            keys: Any = ids
        else:
            fields = self.hash_keys if self.hash_keys is not None else list(columns)
            cols = {k: columns[k] if k in columns else [None] * n for k in fields}
            has = {
                k: present[k] if k in columns else np.zeros(n, bool) for k in fields if k not in columns or k in present
            }
            keys = hash_records(cols, has) if n else np.zeros(0, np.uint64)
            ids = hex_ids(keys)
        out: dict[str, Any] = columns
        if self.keys is not None:
            out = {k: columns[k] if k in columns else typed([None] * n) for k in self.keys if k not in (B.IDX, B.REV)}
        check_unique(keys, where, self, ids)
        if not n:
            return B.empty(self.keys or []), keys
        return B.from_columns(ids, out, 0, op=self, check_unique=False), keys

    def _ids(
        self, records: list[dict[str, Any]], columns: dict[str, Any], present: dict[str, Any], where: Sequence[str]
    ) -> tuple[list[str], Any]:
        """The idx of each record, and what to check for uniqueness (the hashes when every idx is one)."""
        if self.idx_key is not None:
            ids = idx_from_key([r.get(self.idx_key) for r in records], self.idx_key, where, self)
            return ids, ids
        if self.hash_keys is not None:
            cols = {k: [r.get(k) for r in records] for k in self.hash_keys}
            has = {k: np.fromiter((k in r for r in records), bool, len(records)) for k in self.hash_keys}
            hashes = hash_records(cols, has) if records else np.zeros(0, np.uint64)
            return hex_ids(hashes), hashes
        if not any(map(operator.contains, records, itertools.repeat(B.IDX))):
            hashes = hash_records(columns, present) if columns else np.zeros(len(records), np.uint64)
            return hex_ids(hashes), hashes
        own = own_idx([r.get(B.IDX) for r in records], [B.IDX in r for r in records], where, self)
        missing = [i for i, v in enumerate(own) if v is None]
        if missing:
            sub = [records[i] for i in missing]
            cols, has = columns_of_records(sub)
            for i, h in zip(missing, hex_ids(hash_records(cols, has)), strict=True):
                own[i] = h
        return own, own  # type: ignore[return-value]


def _at(files: Sequence[Path], starts: Sequence[int], numbers: Sequence[np.ndarray | None] | None, i: int) -> str:
    """``file:line`` of record ``i`` of files read one after the other (built only for an error)."""
    f = int(np.searchsorted(starts, i, side="right")) - 1
    j = i - int(starts[f])
    nums = numbers[f] if numbers is not None else None
    return f"{files[f]}:{j + 1 if nums is None else int(nums[j])}"


def _same_plain(loaded: Sequence[Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """The files' plain columns joined and where partial fields are present, when every file is
    plain, and several files have the same fields, each in every record, with the same types."""
    if not loaded or not all(isinstance(p, Plain) for p in loaded):
        return None
    first = loaded[0].columns
    if any(k in first for k in (B.IDX, B.REV)):
        return None
    if len(loaded) == 1:
        return first, loaded[0].present
    for p in loaded:
        if p.present or list(p.columns) != list(first) or any(p.columns[k].dtype != v.dtype for k, v in first.items()):
            return None
    return {k: np.concatenate([p.columns[k] for p in loaded]) for k in first}, {}


class ReadParquet(RecordFiles):
    """Rows of Parquet files, read as whole tables (files written by WriteParquet restore exact values).

    idx as in :class:`ReadJsonl`: ``idx_key``, a hash of ``hash_keys``, the file's own ``idx``
    column, or a hash of the whole row.
    """

    def read(self, ctx: RunContext) -> pd.DataFrame:
        files = self.files()
        parts = [self._read_one(p) for p in files]
        sizes = np.cumsum([0] + [len(p) for p in parts])

        def describe(i: int) -> str:
            f = int(np.searchsorted(sizes, i, side="right")) - 1
            return f"{files[f]} row {i - sizes[f] + 1}"

        nonempty = [p for p in parts if len(p)] or parts[:1]
        names = list(dict.fromkeys(c for p in nonempty for c in p.columns))
        nonempty = [_with_columns(p, names) for p in nonempty]
        df = nonempty[0] if len(nonempty) == 1 else pd.concat(nonempty, axis=0, sort=False)
        ids = df.index.tolist()
        check_unique(ids, Where(len(df), describe), self, ids)
        return self.finish(df)

    def _read_one(self, path: Path) -> pd.DataFrame:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as e:
            raise SourceError(f"cannot read Parquet file {str(path)!r}: {e}", op=self) from e
        names = table.column_names
        wanted = self.keys
        if wanted is not None:
            for k in wanted:
                if k not in names:
                    raise SourceError(f"{str(path)!r} has no column {k!r} (columns: {names})", op=self, field=k)
            keep = [c for c in (B.IDX, B.REV) if c in names] + [k for k in wanted if k not in (B.IDX, B.REV)]
            for also in [self.idx_key, *(self.hash_keys or [])]:
                if also is not None and also in names and also not in keep:
                    keep.append(also)
            table = table.select(keep)
        keep_own = B.IDX in table.column_names and self.idx_key is None and self.hash_keys is None
        table = arrow_rules(table, path, self, keep_own)  # the rules every source follows
        if not keep_own:
            if B.IDX in table.column_names:
                table = table.drop_columns([B.IDX])
            table = table.append_column(B.IDX, pa.array([str(i) for i in range(table.num_rows)], pa.string()))
        try:
            df = batch_from_arrow(table)
        except ValueError as e:
            raise SourceError(f"{str(path)!r}: {e}", op=self) from e
        if not keep_own and len(df):
            where = Where(len(df), lambda i: f"{path} row {i + 1}")
            if self.idx_key is not None:
                if self.idx_key not in df.columns:
                    raise SourceError(f"{str(path)!r} has no column {self.idx_key!r}", op=self, field=self.idx_key)
                ids = idx_from_key(df[self.idx_key].tolist(), self.idx_key, where, self)
            else:
                fields = self.hash_keys if self.hash_keys is not None else B.data_fields(df)
                for k in fields:
                    if k not in df.columns:
                        raise SourceError(f"{str(path)!r} has no column {k!r}", op=self, field=k)
                ids = hex_ids(hash_records({k: df[k].to_numpy() for k in fields}))
            df = df.set_axis(pd.Index(ids, dtype=object, name=B.IDX), axis=0)
        if wanted is not None:
            df = df[[B.REV, *[k for k in wanted if k != B.REV]]]
        return df


def _with_columns(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``df`` with every column of ``names`` (absent ones None, not NaN), in that order."""
    missing = [c for c in names if c not in df.columns]
    if not missing:
        return df if list(df.columns) == names else df[names]
    none = {c: pd.Series(np.full(len(df), None, dtype=object), index=df.index, dtype=object) for c in missing}
    return df.assign(**none)[names]


# --- markdown and text files --------------------------------------------------------------------------


def _display_name(path: Path, remove_extension: bool) -> str:
    return path.stem if remove_extension else path.name


class _MarkdownSource(FileSource):
    def _init(
        self, glob_str: Any, headings_key: str, filename_key: str | None, remove_extension: bool, opts: tuple
    ) -> None:
        self.glob_str, self.headings_key, self.filename_key = glob_str, headings_key, filename_key
        self.remove_extension_in_filename = remove_extension
        self._reader_options(*opts)

    def _scan(self, iterate: Callable[[Path], Any]) -> tuple[list[Any], list[str], list[Any]]:
        """(records (path_index, headings, text, line), rel names, files) over every file."""
        files = self.files()
        base = glob_base(self.glob_str)
        rows: list[tuple[int, Any, Any, Any]] = []
        for fi, path in enumerate(files):
            try:
                rows.extend((fi, h, t, ln) for h, t, ln in iterate(path))
            except SourceError as e:
                raise SourceError(e.message, op=self) from e
        return rows, [rel_name(p, base) for p in files], files

    def _batch(self, rows: list[Any], files: list[Path], ids: list[str], text_key: str, why: str) -> pd.DataFrame:
        where = Where(len(rows), lambda i: f"{files[rows[i][0]]}:{rows[i][3]}")
        check_unique(ids, where, self, ids, why)
        if not rows:
            return B.empty([text_key, self.headings_key] + ([self.filename_key] if self.filename_key else []))
        columns: dict[str, Any] = {
            text_key: obj_column(objects([r[2] for r in rows])),
            self.headings_key: obj_column(objects([r[1] for r in rows])),
        }
        if self.filename_key:
            names = [_display_name(p, self.remove_extension_in_filename) for p in files]
            columns[self.filename_key] = obj_column(objects([names[r[0]] for r in rows]))
        return self.finish(B.from_columns(ids, columns, op=self, check_unique=False))


class ReadMarkdownLines(_MarkdownSource):
    """One entry per non-blank, non-heading line: ``{keyword, headings, filename}``.

    The idx hashes the file (relative to the glob), the headings and the line itself, not its line
    number, so inserting a line elsewhere changes no other idx.  The same line twice under the
    same headings is an error naming both line numbers.
    """

    def __init__(
        self,
        glob_str: Any,
        *,
        keyword_key: str = "keyword",
        headings_key: str = "headings",
        filename_key: str | None = "filename",
        remove_extension_in_filename: bool = True,
        shuffle: bool = False,
        seed: Any = 42,
        offset: int = 0,
        max_count: int | None = None,
        fire_once: bool = True,
    ) -> None:
        self.keyword_key = keyword_key
        self._init(
            glob_str, headings_key, filename_key, remove_extension_in_filename, (shuffle, seed, offset, max_count)
        )

    def read(self, ctx: RunContext) -> pd.DataFrame:
        from ..formats.markdown import iter_markdown_lines

        rows, rels, files = self._scan(lambda p: iter_markdown_lines(p))
        ids = path_ids([[rels[r[0]], r[1], r[2]] for r in rows], "mdline")
        return self._batch(rows, files, ids, self.keyword_key, "are the same line under the same headings")


class ReadMarkdownEntries(_MarkdownSource):
    """One entry per heading section with non-blank text: ``{text, headings, filename}``.

    The idx hashes the file and the heading path (and the text with ``include_text_in_idx_hash``);
    two sections with the same heading path are an error naming both lines.
    """

    def __init__(
        self,
        glob_str: Any,
        *,
        output_key: str = "text",
        headings_key: str = "headings",
        filename_key: str | None = "filename",
        remove_extension_in_filename: bool = True,
        include_text_in_idx_hash: bool = False,
        shuffle: bool = False,
        seed: Any = 42,
        offset: int = 0,
        max_count: int | None = None,
        fire_once: bool = True,
    ) -> None:
        self.output_key, self.include_text_in_idx_hash = output_key, include_text_in_idx_hash
        self._init(
            glob_str, headings_key, filename_key, remove_extension_in_filename, (shuffle, seed, offset, max_count)
        )

    def read(self, ctx: RunContext) -> pd.DataFrame:
        from ..formats.markdown import iter_markdown_entries

        rows, rels, files = self._scan(lambda p: iter_markdown_entries(p))
        text = self.include_text_in_idx_hash
        ids = path_ids([[rels[r[0]], r[1]] + ([r[2]] if text else []) for r in rows], "mdentry")
        why = "are sections with the same headings" + (" and text" if text else "")
        return self._batch(rows, files, ids, self.output_key, why)


class ReadTxtFolder(FileSource):
    """One entry per text file: ``{text, filename}``; ``glob_str`` is a glob, one file or a folder (its ``*.txt``).

    ``filename`` is the path relative to the folder (or the glob's fixed part), ``/``-separated,
    without its extension unless ``remove_extension_in_filename=False``; the idx hashes it.
    """

    def __init__(
        self,
        glob_str: Any,
        text_key: str = "text",
        *,
        filename_key: str = "filename",
        remove_extension_in_filename: bool = True,
        shuffle: bool = False,
        seed: Any = 42,
        offset: int = 0,
        max_count: int | None = None,
        fire_once: bool = True,
    ) -> None:
        self.glob_str, self.text_key, self.filename_key = glob_str, text_key, filename_key
        self.remove_extension_in_filename = remove_extension_in_filename
        self._reader_options(shuffle, seed, offset, max_count)

    def files(self) -> list[Path]:
        if os.path.isdir(os.fspath(self.glob_str)):
            found = sorted(p for p in Path(self.glob_str).rglob("*.txt") if p.is_file())
            if not found:
                raise SourceError(f"no .txt file in the folder {os.fspath(self.glob_str)!r}", op=self)
            return found
        return resolve_files(self.glob_str, self)

    def read(self, ctx: RunContext) -> pd.DataFrame:
        from ..formats.txt import iter_txt_folder

        self.files()  # the same "missing" error as the fingerprint gives
        try:
            rows = list(iter_txt_folder(self.glob_str))
        except SourceError as e:
            raise SourceError(e.message, op=self) from e
        names = [name if self.remove_extension_in_filename else name + path.suffix for path, name, _ in rows]
        ids = path_ids([[name + path.suffix] for (path, name, _) in rows], "txtfile")
        where = Where(len(rows), lambda i: str(rows[i][0]))
        check_unique(ids, where, self, ids)
        columns = {
            self.text_key: obj_column(objects([r[2] for r in rows])),
            self.filename_key: obj_column(objects(names)),
        }
        return self.finish(B.from_columns(ids, columns, op=self, check_unique=False))
