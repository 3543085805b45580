"""BudgetTracker: reservations never let spend exceed the cap, from any thread."""

from __future__ import annotations

import threading

import pytest

from bfnb.brokers.budget import FALLBACK_USD_PER_MTOK, BudgetTracker, fallback_cost


def test_reserve_commit_release() -> None:
    b = BudgetTracker(1.0)
    assert b.try_reserve(0.6)
    assert not b.try_reserve(0.6)
    assert b.refused == 1
    b.commit(0.6, 0.1)
    assert b.spent == pytest.approx(0.1) and b.reserved == 0
    assert b.try_reserve(0.6)
    b.release(0.6)
    assert b.spent == pytest.approx(0.1) and b.remaining == pytest.approx(0.9)


def test_no_cap_always_fits() -> None:
    b = BudgetTracker(None)
    assert all(b.try_reserve(1e9) for _ in range(3))
    assert b.remaining is None


def test_unknown_cost_keeps_the_reservation() -> None:
    b = BudgetTracker(1.0)
    b.try_reserve(0.3)
    b.commit(0.3, None)
    assert b.spent == pytest.approx(0.3)


def test_fallback_price_is_not_free() -> None:
    assert fallback_cost(1_000_000, 0) == FALLBACK_USD_PER_MTOK[0]
    assert fallback_cost(0, 1_000_000, batch=True) == FALLBACK_USD_PER_MTOK[1] / 2


def test_threads_never_overspend() -> None:
    b = BudgetTracker(10.0)
    granted = []

    def worker() -> None:
        for _ in range(1000):
            if b.try_reserve(0.01):
                granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 1000
    assert b.reserved <= 10.0 + 1e-9


def test_negative_cap_refused() -> None:
    with pytest.raises(ValueError):
        BudgetTracker(-1)
