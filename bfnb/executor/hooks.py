"""Late-bound hooks the executor calls, so it never imports brokers' UI or widgets.

The face of the package (``bfnb/__init__.py``) and the broker layer fill these in.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cancel_all", "make_budget", "wrap_background"]


def make_budget(usd: float) -> Any:
    from ..brokers.budget import BudgetTracker

    return BudgetTracker(usd)


def cancel_all() -> None:
    try:
        from ..brokers.registry import all_brokers
    except ImportError:
        return
    for b in all_brokers():
        b.cancel()


#: replaced by the notebook layer to show a live panel for a background run
def wrap_background(handle: Any) -> Any:
    return handle
