"""The in-kernel memo: node results keyed by node fingerprint.

Re-running an unchanged graph, or a cell whose upstream did not change, takes results from here.
Batches are immutable by convention (ops return new frames; pandas copy-on-write makes shared
columns free), so a memo hit costs nothing.  It keeps the most recently used results up to a
count, so a long session does not grow without bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd

__all__ = ["Memo", "memo"]


class Memo:
    def __init__(self, max_items: int = 256) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, list[pd.DataFrame]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, fp: str) -> list[pd.DataFrame] | None:
        with self._lock:
            v = self._items.get(fp)
            if v is not None:
                self._items.move_to_end(fp)
            return v

    def put(self, fp: str, outputs: list[pd.DataFrame]) -> None:
        with self._lock:
            self._items[fp] = outputs
            self._items.move_to_end(fp)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def __contains__(self, fp: str) -> bool:
        return fp in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


memo = Memo()
