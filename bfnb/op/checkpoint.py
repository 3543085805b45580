"""CheckPoint: persist a node's result so that a new process resumes from it.

The file is named by the node's fingerprint (op, arguments, inputs), never by construction order,
so reordering a script or adding ops elsewhere never serves one node's data to another.  When the
checkpoint exists, nothing upstream of it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .base import Op, RunContext

__all__ = ["CheckPoint"]


class CheckPoint(Op):
    """A pass-through that saves its input (Parquet, lossless) under the project folder."""

    kind = "checkpoint"

    def __init__(self, cache_path: str | None = None, *, keep_all_rev: bool = True, barrier_level: int = 1) -> None:
        self.cache_path = cache_path
        from ..project import current_project

        self._project = current_project()

    def _dir(self, project: Any) -> Path:
        if self.cache_path is not None:
            base = Path(self.cache_path)
            return base if not base.suffix else base.parent
        from ..project import default_project

        proj = project or self._project or default_project()
        return proj.checkpoint_dir

    def _file(self, fp: str, project: Any) -> Path:
        return self._dir(project) / f"{fp}.parquet"

    def load_checkpoint(self, fp: str, project: Any) -> pd.DataFrame | None:
        path = self._file(fp, project)
        if not path.exists():
            return None
        from ..convert import read_parquet

        return read_parquet(path)

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        b = inputs[0]
        if not ctx.inputs_incomplete:  # never persist a result that still has pending entries
            from ..convert import write_parquet

            write_parquet(b, self._file(ctx.fingerprint, ctx.project))
        return [b]
