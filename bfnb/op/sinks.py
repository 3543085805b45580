"""Sinks: ops that write, collect or print their input and pass it on unchanged.

A sink runs once per run on its whole input (bfnb's barriers are real), so a writer writes the
complete result exactly once.  A writer of several files writes all of them or none.  Every
target is checked on its real path when it is written (it stays inside its folder and its project,
symlinks included), and a read-only file is refused.  Every file is written atomically (temporary file + rename, through
:mod:`bfnb.formats.atomic`): if anything fails, before or during the write, the previous file is
left as it was and no half-written file appears.  Writers check everything they can (fields,
file names) before they write anything.  Collectors (``ToList``, ``OutputEntries``) reset their
output on every run; ``Graph.execute()`` returns it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from .. import batch as B
from ..convert import batch_to_jsonl_bytes, write_parquet
from ..errors import DuplicateIdxError, MissingFieldError, OpError, PathError, WriteError
from ..formats.atomic import atomic_open, atomic_write_many
from ..project import check_name, ensure_inside
from .op import RunContext, SinkOp, key_list

__all__ = [
    "OutputEntries",
    "PrintEntry",
    "PrintField",
    "ToList",
    "WriteJsonl",
    "WriteMarkdownEntries",
    "WriteMarkdownLines",
    "WriteParquet",
    "WriteTxtFolder",
]


_SLICE = 20_000  # rows encoded at a time by the JSONL writer (bounds memory; same bytes)


def _require(batch: pd.DataFrame, keys: Sequence[str], op: Any) -> None:
    for k in keys:
        if k not in batch.columns:
            ix = batch.index[0] if len(batch) else None
            raise MissingFieldError(f"missing field {k!r}", op=op, idx=ix, field=k)


def _write_error(op: Any, path: Any, e: OSError) -> WriteError:
    """An OSError of a write as a WriteError naming the file and the cause, not the errno number."""
    why = e.strerror or str(e)
    return WriteError(f"cannot write {os.fspath(path)!r}: {why}; nothing was written", op=op)


def _encoded(text: str, op: Any, idx: Any, field: str) -> bytes:
    """``text`` as UTF-8, or an error naming the entry (a lone surrogate cannot be written)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise OpError(
            f"text holds {text[e.start : e.end]!r} at position {e.start}, a lone surrogate UTF-8 cannot encode "
            f"(text decoded with errors='surrogateescape'?)",
            op=op,
            idx=idx,
            field=field,
        ) from None


class WriteJsonl(SinkOp):
    """Write the batch to one JSONL file (``idx``, ``rev``, then the fields), replacing it atomically.

    ``packing="seed"`` writes arrays, bytes and images in batchfactory's form, for files its code
    will read; bfnb reads either.
    """

    def __init__(
        self, path: str | os.PathLike[str], output_keys: str | Sequence[str] | None = None, *, packing: str = "bfnb"
    ) -> None:
        from ..formats.packing import STYLES

        if packing not in STYLES:
            raise ValueError(f"WriteJsonl: unknown packing {packing!r}; accepted: {', '.join(STYLES)}")
        self.path, self.packing = path, packing
        self.output_keys = key_list(output_keys) if output_keys is not None else None

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        fields = self.output_keys if self.output_keys is not None else B.data_fields(batch)
        _require(batch, fields, self)
        ensure_inside(self.path, op=self)
        try:
            with atomic_open(self.path, "wb") as f:  # in slices: memory stays bounded, output is identical
                for start in range(0, len(batch), _SLICE):
                    f.write(batch_to_jsonl_bytes(batch.iloc[start : start + _SLICE], fields, packing=self.packing))
        except TypeError as e:
            raise OpError(str(e), op=self) from e
        except OSError as e:
            raise _write_error(self, self.path, e) from e


class WriteParquet(SinkOp):
    """Write the batch to one Parquet file (lossless for ReadParquet), replacing it atomically."""

    def __init__(self, path: str | os.PathLike[str], output_keys: str | Sequence[str] | None = None) -> None:
        self.path = path
        self.output_keys = key_list(output_keys) if output_keys is not None else None

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        if self.output_keys is not None:
            _require(batch, self.output_keys, self)
            batch = batch[[B.REV, *self.output_keys]] if B.REV in batch.columns else batch[self.output_keys]
        ensure_inside(self.path, op=self)
        try:
            write_parquet(batch, self.path)
        except TypeError as e:
            raise OpError(str(e), op=self) from e
        except OSError as e:
            raise _write_error(self, self.path, e) from e


def safe_relative(name: Any, op: Any, idx: Any, field: str) -> PurePosixPath:
    """A file name from data, refused when it is empty, absolute or climbs out with ``..``."""
    text = str(name) if name is not None else ""
    pure = PurePosixPath(text.replace("\\", "/"))
    if not text.strip() or pure.is_absolute() or ".." in pure.parts or (len(text) > 1 and text[1] == ":"):
        raise PathError(f"file name {text!r} is empty or escapes the output folder", op=op, idx=idx, field=field)
    check_name(text, "file name", op=op, idx=idx, field=field)
    return pure


class WriteTxtFolder(SinkOp):
    """One ``<filename>.txt`` per entry under ``directory`` (``.txt`` is added unless present)."""

    def __init__(
        self, directory: str | os.PathLike[str], text_key: str = "text", *, filename_key: str = "filename"
    ) -> None:
        self.directory, self.text_key, self.filename_key = directory, text_key, filename_key

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        _require(batch, [self.text_key, self.filename_key], self)
        root = Path(self.directory)
        targets: dict[str, Any] = {}
        files = []
        for ix, name, text in zip(batch.index, batch[self.filename_key], batch[self.text_key], strict=True):
            rel = safe_relative(name, self, ix, self.filename_key)
            rel_s = str(rel) if str(rel).endswith(".txt") else f"{rel}.txt"
            if rel_s in targets:
                raise DuplicateIdxError(
                    f"entries {targets[rel_s]!r} and {ix!r} would both write {rel_s!r}",
                    op=self,
                    idx=ix,
                    field=self.filename_key,
                )
            if not isinstance(text, str):
                raise OpError(f"text must be a str, got {type(text).__name__}", op=self, idx=ix, field=self.text_key)
            targets[rel_s] = ix
            path = ensure_inside(root / rel_s, root, op=self, idx=ix, field=self.filename_key)
            files.append((path, _encoded(text, self, ix, self.text_key)))
        try:
            atomic_write_many(files)  # every file new, or every file as it was
        except OSError as e:
            raise _write_error(self, getattr(e, "filename", None) or root, e) from e


class ToList(SinkOp):
    """Collect the batch into a list: values (one key), dicts of the keys (several), or each entry's data (none)."""

    produces_output = True
    memoize = False

    def __init__(self, *output_keys: Any) -> None:
        self.output_keys = [k for group in output_keys for k in key_list(group)]

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        self._output = None
        keys = self.output_keys
        _require(batch, keys, self)
        if len(keys) == 1:
            self._output = batch[keys[0]].tolist()
        elif keys:
            cols = [batch[k].tolist() for k in keys]
            self._output = [dict(zip(keys, vals, strict=True)) for vals in zip(*cols, strict=True)]
        else:
            self._output = B.to_records(batch, with_meta=False)


class OutputEntries(SinkOp):
    """Collect the entries as a list of :class:`bfnb.Entry` (``e.idx``, ``e.rev``, ``e.data``), as the seed did.

    ``e.to_dict()`` gives ``{"idx": ..., "rev": ..., <field>: <value>, ...}``; ``FromList`` takes
    the entries back.
    """

    produces_output = True
    memoize = False

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        from ..entry import make_entries

        revs = batch[B.REV].tolist() if B.REV in batch.columns else [0] * len(batch)
        self._output = make_entries(batch.index.tolist(), [int(r) for r in revs], B.to_records(batch, with_meta=False))


def _short(v: Any, limit: int = 200) -> str:
    text = v if isinstance(v, str) else repr(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PrintEntry(SinkOp):
    """Print idx, rev and the fields of the first ``first_n`` entries (all when None)."""

    def __init__(self, *, first_n: int | None = None) -> None:
        self.first_n = first_n

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        head = batch if self.first_n is None else batch.iloc[: self.first_n]
        for rec in B.to_records(head):
            print(f"idx: {rec.pop(B.IDX)}  rev: {rec.pop(B.REV)}")
            for k, v in rec.items():
                print(f"  {k}: {_short(v)}")
        print(f"({len(batch)} entries)")


class PrintField(SinkOp):
    """Print one field of the first ``first_n`` entries (all when None)."""

    def __init__(self, field: str = "text", *, first_n: int | None = 5) -> None:
        self.field, self.first_n = field, first_n

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        _require(batch, [self.field], self)
        head = batch if self.first_n is None else batch.iloc[: self.first_n]
        for ix, v in zip(head.index, head[self.field], strict=True):
            print(f"--- {ix} ---")
            print(v if isinstance(v, str) else repr(v))


class _MarkdownWriter(SinkOp):
    """Shared by the markdown writers: grouping into files, sorting, atomic writes."""

    path_or_folder: Any
    headings_key: str
    text_key: str
    filename_key: str | None
    sort: bool

    def _render(self, records: list[tuple[list[str], str]]) -> str:
        raise NotImplementedError

    def _check(self, ix: Any, headings: Any, text: Any) -> list[str]:
        if headings is None:
            headings = []
        if not isinstance(headings, (list, tuple)) or not all(isinstance(h, str) for h in headings):
            raise OpError(f"headings must be a list of str, got {headings!r}", op=self, idx=ix, field=self.headings_key)
        if not isinstance(text, str):
            raise OpError(f"expected a str, got {type(text).__name__}", op=self, idx=ix, field=self.text_key)
        return list(headings)

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        from ..formats.markdown import build_sort_key_from_headings

        keys = [self.headings_key, self.text_key] + ([self.filename_key] if self.filename_key else [])
        _require(batch, keys, self)
        groups: dict[str, list[tuple[Any, list[str], str]]] = {}
        names = batch[self.filename_key].tolist() if self.filename_key else [None] * len(batch)
        for ix, h, t, name in zip(batch.index, batch[self.headings_key], batch[self.text_key], names, strict=True):
            if self.filename_key:
                rel = str(safe_relative(name, self, ix, self.filename_key))
                rel = rel if rel.endswith(".md") else rel + ".md"
            else:
                rel = ""
            groups.setdefault(rel, []).append((ix, self._check(ix, h, t), t))
        outputs = []
        for rel, rows in groups.items():
            if self.sort:
                rows = sorted(rows, key=lambda r: build_sort_key_from_headings(r[1]))  # stable
            try:
                text = self._render([(h, t) for _, h, t in rows])
            except (TypeError, ValueError) as e:
                raise OpError(f"cannot write markdown: {e}", op=self, field=self.text_key) from e
            base = Path(self.path_or_folder)
            path = ensure_inside(base / rel, base, op=self) if rel else ensure_inside(base, op=self)
            outputs.append((path, _encoded(text, self, None, self.text_key)))
        try:
            atomic_write_many(outputs)
        except OSError as e:
            raise _write_error(self, getattr(e, "filename", None) or self.path_or_folder, e) from e


class WriteMarkdownLines(_MarkdownWriter):
    """Write keywords as markdown lines under their headings; with ``filename_key``, one ``.md`` per value under the folder."""

    def __init__(
        self,
        path_or_folder: str | os.PathLike[str],
        *,
        keyword_key: str = "keyword",
        headings_key: str = "headings",
        filename_key: str | None = None,
        sort: bool = False,
    ) -> None:
        self.path_or_folder, self.text_key, self.headings_key = path_or_folder, keyword_key, headings_key
        self.filename_key, self.sort = filename_key, sort

    def _check(self, ix: Any, headings: Any, text: Any) -> list[str]:
        hs = super()._check(ix, headings, text)
        if not text.strip() or "\n" in text.strip() or "\r" in text:
            raise OpError(
                f"a markdown line must be one non-blank line, got {text!r}", op=self, idx=ix, field=self.text_key
            )
        return hs

    def _render(self, records: list[tuple[list[str], str]]) -> str:
        from ..formats.markdown import write_markdown_lines

        return write_markdown_lines(records)


class WriteMarkdownEntries(_MarkdownWriter):
    """Write texts as markdown sections under their headings; with ``filename_key``, one ``.md`` per value under the folder."""

    def __init__(
        self,
        path_or_folder: str | os.PathLike[str],
        *,
        output_key: str = "text",
        headings_key: str = "headings",
        filename_key: str | None = None,
        sort: bool = False,
    ) -> None:
        self.path_or_folder, self.text_key, self.headings_key = path_or_folder, output_key, headings_key
        self.filename_key, self.sort = filename_key, sort

    def _render(self, records: list[tuple[list[str], str]]) -> str:
        from ..formats.markdown import write_markdown_entries

        return write_markdown_entries(records)
