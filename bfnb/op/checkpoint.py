"""Checkpoints: persist a node's result so that a new process resumes from it.

The file is named by the node's fingerprint (op, arguments, inputs), never by construction order,
so reordering a script or adding ops elsewhere never serves one node's data to another.  When a
node's checkpoint exists, nothing upstream of it runs.

``CheckPoint`` is the explicit op.  Broker ops (AskLLM, EmbedText, ...) persist their result the
same way once it is complete (no pending or failed entry), so re-running a finished pipeline in a
new kernel reads one file instead of looking up every call in the ledger.

The file is an Arrow IPC file (``<fingerprint>.arrow``, zstd-compressed, the table
:func:`~bfnb.convert.batch_to_arrow` makes, so as lossless as Parquet): it reads in a few
milliseconds with no import beyond pyarrow itself, where a Parquet checkpoint cost a ``pyarrow.parquet``
import and a decode (a third of a cached re-run in a new process).  A ``<fingerprint>.parquet``
checkpoint written by an earlier version is still read.

A checkpoint is a cache, never the only copy: a truncated or corrupt file is a cache miss with a
:class:`~bfnb.errors.BfnbWarning` naming the file, the node runs again (a broker op's answers then
come from the ledger, with no request sent) and the file is rewritten.  A checkpoint that cannot be
saved (a full disk, a read-only folder) is a warning too, never a failed run.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import BfnbWarning
from .op import Op, RunContext

__all__ = ["CheckPoint", "Persisted"]


class Persisted:
    """Mixin: the node's complete result is saved under the project, keyed by its fingerprint."""

    persist_result = True
    preserves_idx = True
    cache_path: str | None = None
    _project: Any = None

    def _checkpoint_dir(self, project: Any) -> Path:
        if self.cache_path is not None:
            base = Path(self.cache_path)
            return base if not base.suffix else base.parent
        from ..project import default_project

        proj = project or self._project or default_project()
        return proj.checkpoint_dir

    def checkpoint_file(self, fp: str, project: Any) -> Path:
        return self._checkpoint_dir(project) / f"{fp}.arrow"

    def load_checkpoint(self, fp: str, project: Any) -> pd.DataFrame | None:
        try:
            path = self.checkpoint_file(fp, project)
        except OSError:  # no checkpoint folder can be made there: nothing was saved either
            return None
        older = path.with_suffix(".parquet")  # written before checkpoints were Arrow files
        if not path.exists():
            if not older.exists():
                return None
            path = older
        try:
            if path is older:
                from ..convert import read_parquet

                batch = read_parquet(path)
                self.save_checkpoint(fp, project, batch)  # as an Arrow file from now on
                return batch
            return _read_arrow(path)
        except Exception as e:  # any damage: a cache miss, never a failed run
            warnings.warn(
                f"checkpoint file {str(path)!r} is unreadable ({e}); ignoring it and recomputing the node "
                f"(broker answers come from the ledger); it will be rewritten",
                BfnbWarning,
                stacklevel=2,
            )
            return None

    def save_checkpoint(self, fp: str, project: Any, batch: pd.DataFrame) -> None:
        path: Any = "under " + str(self.cache_path or "the project's checkpoints folder")
        try:
            path = self.checkpoint_file(fp, project)
            _write_arrow(batch, path)
            path.with_suffix(".parquet").unlink(missing_ok=True)  # an earlier version's file, now replaced
        except Exception as e:  # a full disk, a read-only folder: the results stand, only the shortcut is lost
            warnings.warn(
                f"could not save the checkpoint {str(path)!r} ({type(e).__name__}: {e}); the results are complete "
                f"and a new process recomputes this node (broker answers from the ledger)",
                BfnbWarning,
                stacklevel=2,
            )


def _write_arrow(batch: pd.DataFrame, path: Path) -> None:
    """The batch as an Arrow IPC file, written atomically (temp file + rename)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from ..convert import batch_to_arrow
    from ..formats.atomic import atomic_open

    table = batch_to_arrow(batch)
    options = ipc.IpcWriteOptions(compression="zstd" if pa.Codec.is_available("zstd") else None)
    with atomic_open(path, "wb") as f, ipc.new_file(f, table.schema, options=options) as writer:
        writer.write_table(table)


def _read_arrow(path: Path) -> pd.DataFrame:
    """A batch written by :func:`_write_arrow` (read whole into memory: no mapping keeps the file open)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from ..convert import batch_from_arrow

    table = ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
    return batch_from_arrow(table)


class CheckPoint(Persisted, Op):
    """A pass-through that saves its input (Arrow IPC, lossless) under the project folder."""

    kind = "checkpoint"

    def __init__(self, cache_path: str | None = None, *, keep_all_rev: bool = True, barrier_level: int = 1) -> None:
        self.cache_path = cache_path
        from ..project import current_project

        self._project = current_project()

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        return [inputs[0]]
