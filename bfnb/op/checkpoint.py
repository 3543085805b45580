"""Checkpoints: persist a node's result so that a new process resumes from it.

The file is named by the node's fingerprint (op, arguments, inputs), never by construction order,
so reordering a script or adding ops elsewhere never serves one node's data to another.  When a
node's checkpoint exists, nothing upstream of it runs.

``CheckPoint`` is the explicit op.  Broker ops (AskLLM, EmbedText, ...) persist their result the
same way once it is complete (no pending or failed entry), so re-running a finished pipeline in a
new kernel reads one Parquet file instead of looking up every call in the ledger.

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
        return self._checkpoint_dir(project) / f"{fp}.parquet"

    def load_checkpoint(self, fp: str, project: Any) -> pd.DataFrame | None:
        try:
            path = self.checkpoint_file(fp, project)
        except OSError:  # no checkpoint folder can be made there: nothing was saved either
            return None
        if not path.exists():
            return None
        from ..convert import read_parquet

        try:
            return read_parquet(path)
        except Exception as e:  # any damage: a cache miss, never a failed run
            warnings.warn(
                f"checkpoint file {str(path)!r} is unreadable ({e}); ignoring it and recomputing the node "
                f"(broker answers come from the ledger); it will be rewritten",
                BfnbWarning,
                stacklevel=2,
            )
            return None

    def save_checkpoint(self, fp: str, project: Any, batch: pd.DataFrame) -> None:
        from ..convert import write_parquet

        path: Any = "under " + str(self.cache_path or "the project's checkpoints folder")
        try:
            path = self.checkpoint_file(fp, project)
            write_parquet(batch, path)
        except Exception as e:  # a full disk, a read-only folder: the results stand, only the shortcut is lost
            warnings.warn(
                f"could not save the checkpoint {str(path)!r} ({type(e).__name__}: {e}); the results are complete "
                f"and a new process recomputes this node (broker answers from the ledger)",
                BfnbWarning,
                stacklevel=2,
            )


class CheckPoint(Persisted, Op):
    """A pass-through that saves its input (Parquet, lossless) under the project folder."""

    kind = "checkpoint"

    def __init__(self, cache_path: str | None = None, *, keep_all_rev: bool = True, barrier_level: int = 1) -> None:
        self.cache_path = cache_path
        from ..project import current_project

        self._project = current_project()

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        return [inputs[0]]
