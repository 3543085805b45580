"""The cluster-wide limit and the workers' progress on Ray (issue 8 item 3).

The bank's arithmetic is checked with a fake clock; the rest runs on the session's local Ray:
clients in separate worker processes never spend more permits than the hub granted, and never
more than the limit allows since the bank began; brokers on workers report their calls to the
driver, whose panel (here the text bars) lists them with the spend counted once.
"""

from __future__ import annotations

import asyncio
import io
import os

import pytest

from bfnb.brokers.config import RateLimits

ray = pytest.importorskip("ray")

from bfnb.engines.ray.permit_bank import UNLIMITED, Ask, BankConfig, PermitBank  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_bank_grants_no_more_than_the_rate_since_it_began_and_takes_back_what_is_unspent():
    clock = FakeClock()
    bank = PermitBank(BankConfig(RateLimits(rpm=600)), clock=clock)  # 97 %: 9.7 permits/s
    assert bank.take("a", Ask(requests=5)).requests == 0  # it starts empty: the minute may be spent
    got = 0
    for step in range(200):  # three clients asking for more than there is, 50 ms apart
        clock.t += 0.05
        got += bank.take("abc"[step % 3], Ask(requests=4)).requests
        assert got <= 9.7 * (clock.t - 100.0) + 1e-9
    assert got >= 9.7 * 10 - 2  # and it does hand out the rate
    clock.t += 5.0
    first = bank.take("a", Ask(requests=100))
    assert first.requests == 9  # at most one second of the rate at once
    bank.take("a", Ask(returned_requests=first.requests))  # unspent: back in the bank
    assert bank.take("b", Ask(requests=100)).requests == 9


def test_a_retry_after_seen_by_one_worker_pauses_every_worker():
    clock = FakeClock()
    bank = PermitBank(BankConfig(RateLimits(rpm=600)), clock=clock)
    clock.t += 5
    bank.take("a", Ask(pause_s=2.0))
    g = bank.take("b", Ask(requests=3))
    assert (g.requests, g.pause_s) == (0, 2.0)
    clock.t += 2.5
    assert 0 < bank.take("b", Ask(requests=3)).requests <= 5  # refilling from empty after the pause


def test_the_panels_pause_holds_every_worker_until_resume():
    clock = FakeClock()
    bank = PermitBank(BankConfig(RateLimits(rpm=600)), clock=clock)
    clock.t += 5
    bank.control = "paused"  # what RelayedBroker.pause() sets through the hub
    g = bank.take("a", Ask(requests=3))
    assert (g.requests, g.control) == (0, "paused") and g.wait_s > 0
    bank.control = "running"
    assert bank.take("a", Ask(requests=3)).requests == 3


def test_one_concurrency_budget_is_shared_by_demand_and_adapts_to_overloads():
    clock = FakeClock()
    bank = PermitBank(BankConfig(RateLimits(concurrency=64)), clock=clock)
    assert bank.take("a", Ask(demand=300)).requests == UNLIMITED  # no RPM set: requests are free
    asks = (("a", 300), ("b", 100), ("c", 0))
    for c, d in asks:  # every worker has asked once; a share is given with each ask
        bank.take(c, Ask(demand=d))
    shares = {c: bank.take(c, Ask(demand=d)).concurrency for c, d in asks}
    assert sum(shares.values()) <= 64 and shares["a"] > shares["b"] >= 1 and shares["c"] >= 1
    clock.t += 10  # a and b stopped asking: c gets everything
    assert bank.take("c", Ask(demand=5)).concurrency == 64

    adaptive = PermitBank(BankConfig(adaptive=True, initial=32, maximum=1024), clock=clock)
    start = adaptive.take("a", Ask()).concurrency
    grown = adaptive.take("a", Ask(latencies=(0.2,) * 64, in_flight=32, demand=500)).concurrency
    assert grown > start  # slow start: answers at a flat latency grow the budget
    clock.t += 1
    assert adaptive.take("b", Ask(overloads=1, demand=500)).concurrency < grown  # a 429 on any worker shrinks it


def test_a_worker_that_loses_the_hub_paces_by_its_own_limiter_and_does_not_hang():
    from bfnb.brokers.limiter import Limiter
    from bfnb.engines.ray.ray_limiter import ClusterLimiter

    async def gone(*args):
        raise ConnectionError("the hub actor died")

    lim = ClusterLimiter(gone, "k|0", BankConfig(RateLimits(rpm=600)))
    lim.fallback = Limiter(RateLimits(rpm=600))

    async def three() -> list[int]:
        return [await asyncio.wait_for(lim.acquire(5), timeout=30) for _ in range(3)]

    assert asyncio.run(three()) == [5, 5, 5]
    assert lim.lost is not None and "hub actor died" in lim.lost


@pytest.fixture
def hub(ray_session):
    from bfnb.engines.ray.cluster_hub import get_hub

    return get_hub()


@ray.remote(num_cpus=0)
def _client(hub, key, config, calls: int, tokens: int) -> int:
    """One worker: 8 callers taking ``calls`` permits in all; returns how many it spent."""
    from bfnb.engines.ray.ray_limiter import ClusterLimiter

    async def main() -> int:
        lim = ClusterLimiter(lambda k, c, w, a: hub.take.remote(k, c, w, a), key, config)
        left = [calls]

        async def caller() -> None:
            while left[0] > 0:
                left[0] -= 1
                reserved = await lim.acquire(tokens)
                lim.settle(reserved, tokens // 2)  # half the tokens used: given back to the block

        await asyncio.gather(*(caller() for _ in range(8)))
        return lim.spent

    return asyncio.run(main())


def test_concurrent_clients_never_spend_more_than_the_hub_granted(hub):
    key = f"test clients|{os.getpid()}"
    config = BankConfig(RateLimits(rpm=12_000, tpm=3_000_000, concurrency=16))  # 194 requests/s
    ray.get(hub.configure.remote(key, config), timeout=60)
    spent = ray.get([_client.remote(hub, key, config, 150, 100) for _ in range(4)], timeout=180)
    stats = ray.get(hub.stats.remote(key), timeout=60)
    assert sum(spent) == 600
    assert sum(spent) <= stats["granted_requests"] - stats["returned_requests"]
    # never more than the rate since the bank began (it starts empty)
    assert stats["granted_requests"] - stats["returned_requests"] <= stats["rate_per_s"] * stats["age_s"] + 1
    assert stats["granted_tokens"] - stats["returned_tokens"] <= 3_000_000 * 0.97 / 60 * stats["age_s"] + 1


@ray.remote(num_cpus=0)
def _worker_broker(services, url: str, tag: str, n: int) -> list[float]:
    """A Ray worker runs ``n`` chat calls through its own broker, sharing the limit and relaying events."""
    os.environ.update(OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-test-not-a-real-key")
    os.environ.pop("BFNB_OFFLINE", None)
    from bfnb.brokers.jobs import Job
    from bfnb.brokers.registry import get_broker
    from bfnb.executor.loop import run_sync

    costs: list[float] = []
    with services.relay():
        broker = services.attach(get_broker("chat", "gpt-4o-mini@openai"))
        jobs = [Job(f"{tag}-{i}", "chat", {"messages": [{"role": "user", "content": f"{tag} {i}"}]})
                for i in range(n)]  # fmt: skip
        run_sync(broker.run(jobs, on_record=lambda r: costs.append(r.cost_usd)))
    return costs


def test_workers_brokers_show_in_the_driver_progress_with_spend_counted_once(hub, server, monkeypatch):
    import bfnb as bf
    from bfnb.engines.ray.cluster_hub import RunServices
    from bfnb.op import progress
    from bfnb.widgets.broker_panel import live_progress

    services = RunServices.start(f"test-relay-{os.getpid()}")
    out = io.StringIO()
    monkeypatch.setattr(progress, "_display", lambda getter: live_progress(getter, text=True, file=out))
    monkeypatch.setattr(bf.options, "progress", True)
    with progress.run_scope(), services.watch() as views:
        costs = ray.get([_worker_broker.remote(services, server.url, f"w{i}", 12) for i in range(3)], timeout=180)
    name = "chat gpt-4o-mini@openai"
    snap = views[name].snapshot()
    paid = [c for part in costs for c in part]
    assert (snap.done, snap.failed, snap.pending, snap.in_flight) == (36, 0, 0, 0)
    assert snap.cost_usd == pytest.approx(sum(paid)) and sum(paid) > 0  # each call's price once
    assert snap.input_tokens > 0 and snap.concurrency > 0
    assert server.stats()["answered"] == 36
    assert name in out.getvalue() and "36 done" in out.getvalue(), out.getvalue()
    services.close()


def test_askllm_on_ray_workers_takes_permits_from_the_drivers_limit_and_shows_in_its_progress(
    ray_session, server, monkeypatch
):
    import bfnb as bf
    from bfnb.engines import get_engine
    from bfnb.engines.ray.cluster_hub import bank_key, get_hub
    from bfnb.op import AskLLM, FromList, progress
    from bfnb.widgets.broker_panel import live_progress

    driver_broker = bf.get_broker("chat", "gpt-4o-mini@openai", limits=bf.RateLimits(rpm=6_000, concurrency=8))
    out = io.StringIO()
    monkeypatch.setattr(progress, "_display", lambda getter: live_progress(getter, text=True, file=out))
    monkeypatch.setattr(bf.options, "progress", True)
    monkeypatch.setattr(get_engine("ray"), "batch_rows", 8)  # five batches, on both worker processes
    g = FromList([{"w": f"word {i}"} for i in range(40)]) | AskLLM("One word about {w}", model="gpt-4o-mini@openai")
    res = g.run(engine="ray")
    assert (res["status"] == "done").all() and server.stats()["answered"] == 40
    stats = ray.get(get_hub().stats.remote(bank_key(driver_broker)), timeout=60)
    assert stats["rate_per_s"] == pytest.approx(6_000 * 0.97 / 60)  # the notebook's limits, on the workers
    assert stats["granted_requests"] - stats["returned_requests"] >= 40  # every call took a permit
    assert "chat gpt-4o-mini@openai: 40 done (0 cached)" in out.getvalue(), out.getvalue()
