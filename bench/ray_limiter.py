"""The cluster-wide limiter on Ray: permits per second, and 429s at the package server, side by side.

(a) permits/s: ``--clients`` Ray tasks, each a worker-side ``ClusterLimiter`` with 16 callers
    spinning on ``acquire()``, take permits from one hub for 3 s under a limit of 1.2M RPM (paced
    at 19,400/s); prints permits/s spent across the cluster and asks (actor calls) per second.
(b) 429s: the package's OpenAI-compatible server (in this process, ``--latency`` per answer) under
    ``--rpm``; ``--workers`` Ray actors each run a ChatBroker (real HTTP) with more calls than the
    limit allows in ``--seconds``, first each pacing by its own limiter at ``--rpm`` (what a
    broker on a worker does alone), then all sharing the hub's one limit.  Before each mode the
    server's minute is used up (requests until it answers 429), as after an earlier run: the
    hardest start for a limiter.  Prints answers, share of the limit, and 429s.
(c) the same through the engine: ``FromList | AskLLM`` over ``--rows`` entries with
    ``g.run(engine="ray")`` (batches of 50 on the Ray workers), the limit set in the driver with
    ``bf.get_broker(..., limits=RateLimits(rpm=--rpm))``, the server's minute used up first.

    .venv/bin/python bench/ray_limiter.py [--clients 4] [--workers 6] [--rpm 3000] [--seconds 10] [--rows 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ray

from bfnb.brokers.config import RateLimits
from bfnb.engines.ray import ensure_ray
from bfnb.engines.ray.cluster_hub import RunServices, get_hub
from bfnb.engines.ray.permit_bank import BankConfig
from bfnb.engines.ray.ray_limiter import ClusterLimiter
from bfnb.local.httpserver import LocalServer


@ray.remote(num_cpus=0)
def spin(hub: object, key: str, config: BankConfig, seconds: float) -> tuple[int, float]:
    """One worker: 16 callers taking permits as fast as they can; (permits spent, seconds)."""

    async def main() -> tuple[int, float]:
        lim = ClusterLimiter(lambda k, c, w, a: hub.take.remote(k, c, w, a), key, config)  # type: ignore[attr-defined]
        t0 = time.monotonic()

        async def caller() -> None:
            while time.monotonic() - t0 < seconds:
                await lim.acquire(0)

        await asyncio.gather(*(caller() for _ in range(16)))
        return lim.spent, time.monotonic() - t0

    return asyncio.run(main())


def permits_per_second(clients: int, seconds: float) -> None:
    hub = get_hub()
    rpm = 1_200_000  # paced at 97 %: 19,400 permits/s, a limit the callers can reach
    key, config = "bench permits|0", BankConfig(RateLimits(rpm=rpm, concurrency=64))
    ray.get(hub.configure.remote(key, config))
    ray.get([spin.remote(hub, "warm|0", config, 0.2) for _ in range(clients)])  # start the worker processes
    t0 = time.monotonic()
    got = ray.get([spin.remote(hub, key, config, seconds) for _ in range(clients)])
    wall = time.monotonic() - t0
    stats = ray.get(hub.stats.remote(key))
    spent = sum(n for n, _ in got)
    burst = stats["burst"]  # what the bank held when the callers began (it refills to one second's worth)
    print(f"(a) {clients} workers x 16 callers, {seconds:.0f} s, under a limit paced at {stats['rate_per_s']:,.0f}/s: "
          f"{spent:,} permits spent = {(spent - burst) / seconds:,.0f} permits/s after the first second's burst "
          f"of {burst:,.0f} (target >= 5,000); {stats['asks'] / wall:,.0f} asks/s to the hub; "
          f"granted {stats['granted_requests']:,}, given back {stats['returned_requests']:,}")  # fmt: skip


@ray.remote(num_cpus=0)
class Worker:
    """A Ray worker with one ChatBroker against the package server (real HTTP)."""

    def __init__(self, url: str, rpm: int) -> None:
        os.environ.update(OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-bench-not-a-key")
        os.environ.pop("BFNB_OFFLINE", None)
        from bfnb.brokers.registry import get_broker

        self.broker = get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(rpm=rpm, concurrency=64))

    def share(self, services: RunServices) -> None:
        services.attach(self.broker)

    def run(self, seconds: float, n: int, tag: str) -> int:
        from bfnb.brokers.jobs import Job
        from bfnb.executor.loop import run_sync

        jobs = [Job(f"{tag}-{os.getpid()}-{i}", "chat", {"messages": [{"role": "user", "content": f"{tag} {i}"}],
                    "max_tokens": 8}, est_input_tokens=10, max_output_tokens=8) for i in range(n)]  # fmt: skip
        done: list[int] = []
        timer = threading.Timer(seconds, self.broker.cancel)  # cancel() is safe from any thread
        timer.start()
        run_sync(self.broker.run(jobs, on_record=lambda r: done.append(1)))
        timer.cancel()
        return len(done)


def drain(server: LocalServer) -> None:
    """Use up the server's minute: rounds of 256 requests until one is answered 429."""
    import aiohttp

    async def main() -> None:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "drain"}], "max_tokens": 1}
        headers = {"Authorization": "Bearer sk-bench-not-a-key"}
        async with aiohttp.ClientSession() as s:
            sem = asyncio.Semaphore(64)

            async def one() -> int:
                async with sem, s.post(f"{server.url}/chat/completions", json=body, headers=headers) as r:
                    await r.read()
                    return r.status

            while 429 not in await asyncio.gather(*(one() for _ in range(256))):
                pass

    asyncio.run(main())


def four_twenty_nines(workers: int, rpm: int, seconds: float, latency: float) -> None:
    with LocalServer(latency_s=latency).start() as server:
        pool = [Worker.remote(server.url, rpm) for _ in range(workers)]  # type: ignore[attr-defined]
        ray.get([w.run.remote(0.5, 1, "warm") for w in pool])
        n = int(rpm * seconds / 60 * 2)  # more than the limit allows: the clock ends each mode
        for mode in ("own limit", "shared limit"):
            if mode == "shared limit":
                services = RunServices.start("bench-429")
                ray.get([w.share.remote(services) for w in pool])
            server.configure(rpm=rpm)
            drain(server)
            server.reset_stats()
            t0 = time.monotonic()
            done = sum(ray.get([w.run.remote(seconds, n, mode.split()[0]) for w in pool]))
            wall = time.monotonic() - t0
            by = server.stats()["by_status"]
            ok, n429 = by.get(200, 0), by.get(429, 0)
            print(f"(b) {workers} workers, {mode:>12}, server limit {rpm:,} RPM, {wall:.0f} s: {ok:,} answered = "
                  f"{ok / (rpm * wall / 60):.1%} of the limit, {n429:,} answered 429 = "
                  f"{n429 / max(1, ok + n429):.2%} (target < 1%), {done:,} calls recorded")  # fmt: skip


def engine_run(rows: int, rpm: int, latency: float) -> None:
    import tempfile

    import bfnb as bf
    from bfnb.engines import get_engine
    from bfnb.op import AskLLM, FromList

    with LocalServer(latency_s=latency).start() as server:
        os.environ.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-bench-not-a-key",
                          BFNB_DATA_DIR=tempfile.mkdtemp(prefix="bfnb-ray-limiter-"))  # fmt: skip
        os.environ.pop("BFNB_OFFLINE", None)
        bf.options.progress = False
        bf.get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(rpm=rpm, concurrency=64))
        get_engine("ray").batch_rows = 50  # type: ignore[attr-defined]
        g = FromList([{"i": i} for i in range(rows)]) | AskLLM("One word about {i}.", model="gpt-4o-mini@openai")
        server.configure(rpm=rpm)
        drain(server)
        server.reset_stats()
        t0 = time.monotonic()
        res = g.run(engine="ray")
        wall = time.monotonic() - t0
        by = server.stats()["by_status"]
        ok, n429 = by.get(200, 0), by.get(429, 0)
        done = int((res["status"] == "done").sum())
        print(f"(c) AskLLM on engine='ray', {rows:,} entries, server limit {rpm:,} RPM, {wall:.0f} s: {ok:,} answered, "
              f"{n429:,} answered 429 = {n429 / max(1, ok + n429):.2%} (target < 1%), {done:,} rows done")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--rpm", type=int, default=3_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--only", default="a,b,c")
    args = ap.parse_args()
    ensure_ray()
    if "a" in args.only:
        permits_per_second(args.clients, min(args.seconds, 3.0))
    if "b" in args.only:
        four_twenty_nines(args.workers, args.rpm, args.seconds, args.latency)
    if "c" in args.only:
        engine_run(args.rows, args.rpm, args.latency)


if __name__ == "__main__":
    main()
