"""A spending cap that stops dispatch *before* it would be exceeded.

Before a call is sent its worst case is reserved: estimated input tokens at the input price plus
``max_tokens`` at the output price.  If that reservation does not fit under the cap, the broker stops
dispatching; otherwise the call goes out and, once answered, its real cost replaces the
reservation.  ``spent + reserved`` therefore never exceeds the cap, even with hundreds of calls in
flight.  The tracker is shared between threads (a UI may read it while the loop thread writes), so
every change holds a lock.

Unknown prices.  A model missing from the price table has no exact cost.  Rather than treat it as
free (which would make a budget meaningless), brokers reserve and charge it at
:data:`FALLBACK_USD_PER_MTOK` (input, output dollars per million tokens: the price of a large
frontier model), so a budget errs on the side of stopping early; records still say ``cost_usd=None``.
"""

from __future__ import annotations

import math
import threading

__all__ = ["FALLBACK_USD_PER_MTOK", "BudgetTracker", "check_budget", "fallback_cost"]

# Dollars per million (input, output) tokens assumed for a model whose price is unknown.
FALLBACK_USD_PER_MTOK: tuple[float, float] = (5.0, 15.0)


def check_budget(usd: object) -> float:
    """``usd`` as dollars, or a ValueError: a budget is a number >= 0 (not NaN, not a bool)."""
    if isinstance(usd, bool) or not isinstance(usd, (int, float)) or math.isnan(usd) or usd < 0:
        raise ValueError(f"a budget is a number of dollars >= 0, got {usd!r}")
    return float(usd)


def fallback_cost(input_tokens: int, output_tokens: int, *, batch: bool = False) -> float:
    """The conservative cost of a call whose model has no known price."""
    usd = (input_tokens * FALLBACK_USD_PER_MTOK[0] + output_tokens * FALLBACK_USD_PER_MTOK[1]) / 1e6
    return usd / 2 if batch else usd


class BudgetTracker:
    """Thread-safe running total of reserved and spent dollars against an optional cap.

    >>> b = BudgetTracker(1.0)
    >>> b.try_reserve(0.75), b.try_reserve(0.5)
    (True, False)
    >>> b.commit(0.75, 0.25); round(b.spent, 2), round(b.reserved, 2)
    (0.25, 0.0)
    """

    def __init__(self, usd: float | None = None) -> None:
        if usd is not None:
            check_budget(usd)
        self.usd = usd
        self._spent = 0.0
        self._reserved = 0.0
        self._refused = 0
        self._lock = threading.Lock()

    def try_reserve(self, max_cost: float) -> bool:
        """Reserve ``max_cost`` dollars if it fits under the cap; False (and nothing reserved) if not."""
        with self._lock:
            if self.usd is not None and self._spent + self._reserved + max_cost > self.usd + 1e-12:
                self._refused += 1
                return False
            self._reserved += max_cost
            return True

    def commit(self, reserved: float, actual: float | None) -> None:
        """Replace a reservation with the real cost (``None``: keep the reservation as the cost)."""
        with self._lock:
            left = self._reserved - reserved
            self._reserved = left if left > 1e-12 else 0.0  # no float dust left behind
            self._spent += reserved if actual is None else actual

    def release(self, reserved: float) -> None:
        """Drop a reservation whose call was never sent."""
        self.commit(reserved, 0.0)

    @property
    def spent(self) -> float:
        return self._spent

    @property
    def reserved(self) -> float:
        return self._reserved

    @property
    def refused(self) -> int:
        """How many reservations did not fit."""
        return self._refused

    @property
    def remaining(self) -> float | None:
        if self.usd is None:
            return None
        with self._lock:
            return max(0.0, self.usd - self._spent - self._reserved)

    def __repr__(self) -> str:
        cap = "none" if self.usd is None else f"${self.usd:.4f}"
        return f"BudgetTracker(cap={cap}, spent=${self._spent:.4f}, reserved=${self._reserved:.4f})"
