"""Test helpers for users' tests and bfnb's own: batch equality, the local server, hostile servers.

``hostile_server("silent")`` (and the other :data:`~bfnb.testing.hostile.BEHAVIOURS`) starts a small
misbehaving server on 127.0.0.1: one that never answers, drips, sends an endless or huge body, a
proxy's HTML page, a redirect, a 429 with an hour's ``Retry-After``, a spent quota, or an error
text echoing the API key.  See :mod:`bfnb.testing.hostile`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["HostileServer", "LocalServer", "assert_batch_equal", "hostile_server", "local_server", "reset_state"]


def reset_state() -> None:
    """Forget what this process remembers between runs, as a new kernel would.

    Clears the in-kernel node memo, the broker registry, the model lists asked of endpoints, the shared project ledgers (closed), the
    last-entered project and the notebook cell being run.  Tests call it before and after each
    test, so no test sees another's brokers, ledgers or results.  Files on disk are untouched.
    """
    from .. import project
    from ..brokers import catalog, registry
    from ..executor.memo import memo
    from ..graph import cells

    memo.clear()
    registry._clear()
    catalog.forget_lists()
    for ledger in list(project._ledgers.values()):
        ledger.close()
    project._ledgers.clear()
    project._last.clear()
    cells.leave_cell()


def assert_batch_equal(left: pd.DataFrame, right: pd.DataFrame, *, check_order: bool = True) -> None:
    """Equal idx, rev and fields (any column order; arrays compared by value and dtype)."""
    assert list(left.index) == list(right.index) if check_order else set(left.index) == set(right.index), (
        f"idx differ: {list(left.index)[:5]} vs {list(right.index)[:5]}"
    )
    assert set(left.columns) == set(right.columns), f"fields differ: {sorted(left.columns)} vs {sorted(right.columns)}"
    r = right.loc[left.index]
    for col in left.columns:
        for ix, x, y in zip(left.index, left[col].tolist(), r[col].tolist(), strict=True):
            assert _same(x, y), f"field {col!r} of idx {ix!r}: {x!r} != {y!r}"


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
        return True
    return (bool(x == y) and type(x) is type(y)) or (
        isinstance(x, (int, float)) and isinstance(y, (int, float)) and x == y
    )


def __getattr__(name: str) -> Any:
    if name in ("HostileServer", "hostile_server"):
        from . import hostile

        return getattr(hostile, name)
    if name in ("LocalServer", "local_server"):
        from . import fixtures

        return getattr(fixtures, name) if name == "local_server" else fixtures.LocalServer
    raise AttributeError(name)
