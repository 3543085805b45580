"""How fast bfnb dispatches chat calls, next to the clients it must beat.

Starts the local OpenAI-compatible server in a separate process (so client and server do not share a
GIL) with a fixed 200 ms latency, then measures, in one run:

  (a) a bare aiohttp + orjson client: the ceiling of this machine for Python clients;
  (b) the official ``openai.AsyncOpenAI`` client (capped at ``--openai-n`` requests to stay short);
  (c) the AskLLM op over ``--n`` entries, cold, in a fresh process and project (the whole path:
      prompts, keys, ledger, broker, HTTP), with no limits set (the concurrency adapts, as a new
      user gets it); (c3) the same with the user's ``RateLimits(concurrency=256)``; (c2)
      ``ChatBroker.run`` alone over the same count at 256;
  (d) the same AskLLM pipeline re-run in a new process, everything cached: rows/s of ``g.run()``
      (and (d2) with the node checkpoints deleted, so every row is looked up in the ledger);
  (e) AskLLM, no limits set, under a server limit of ``--rpm`` requests per minute that the server
      advertises in ``x-ratelimit-*`` headers (about ``--seconds`` of work): the share of the limit
      it achieves and how many 429s it causes; (e2) the broker alone, told the limit.

and prints the ratios (c)/(a) and (c)/(b).  Each measurement is one function taking the server URL
and returning a dict.

    .venv/bin/python bench/dispatch.py                 # everything, about 5 minutes
    .venv/bin/python bench/dispatch.py --only a,c      # a subset
    .venv/bin/python bench/dispatch.py --only d --repeat 5 --compare /tmp/bfnb-before   # (d) beside another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONCURRENCY = 256
PROMPT = "Summarise in one line the following note about the harbour, the tides and the morning light. " * 3


def body(i: int) -> dict[str, Any]:
    """A chat request of ~100 tokens (prompt + max_tokens), distinct per ``i``."""
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"{i}: {PROMPT}"}], "max_tokens": 20}


# --- the server, in its own process -------------------------------------------------------------

_SERVER = """
import sys, time
from bfnb.local.httpserver import LocalServer
s = LocalServer(latency_s=float(sys.argv[1])).start()
print(s.url, flush=True)
sys.stdin.read()  # until the parent closes our stdin
s.stop()
"""


def start_server(latency_s: float) -> tuple[str, subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(latency_s)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        raise RuntimeError("the local server did not start")
    return url, proc


def control(url: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST (with payload) or GET a control endpoint of the server (``/stats``, ``/configure``...)."""
    root = url.rsplit("/v1", 1)[0]
    data = orjson.dumps(payload) if payload is not None else None
    req = urllib.request.Request(root + path, data=data, method="POST" if data is not None or path != "/stats" else "GET",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as resp:
        return orjson.loads(resp.read())


def cpu() -> float:
    return time.process_time()


# --- (a) bare aiohttp ---------------------------------------------------------------------------


def measure_bare_aiohttp(url: str, n: int, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    import aiohttp

    async def main() -> int:
        headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
        ok = 0
        it = iter(range(n))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def worker() -> None:
                nonlocal ok
                for i in it:
                    async with session.post(
                        f"{url}/chat/completions", data=orjson.dumps(body(i)), headers=headers
                    ) as r:
                        data = orjson.loads(await r.read())
                        ok += r.status == 200 and "choices" in data

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok

    return _timed("a) bare aiohttp + orjson", n, lambda: asyncio.run(main()))


# --- (b) the official openai client -------------------------------------------------------------


def measure_openai_client(url: str, n: int, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    import openai

    async def main() -> int:
        client = openai.AsyncOpenAI(base_url=url, api_key="sk-bench", max_retries=0)
        ok = 0
        it = iter(range(n))

        async def worker() -> None:
            nonlocal ok
            for i in it:
                r = await client.chat.completions.create(**body(i))
                ok += bool(r.choices)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await client.close()
        return ok

    return _timed("b) openai.AsyncOpenAI", n, lambda: asyncio.run(main()))


# --- (c) ChatBroker, cold -----------------------------------------------------------------------


def _broker(url: str, **limits: Any) -> Any:
    from bfnb.brokers import ChatBroker, RateLimits, Retry
    from bfnb.brokers.providers import Provider, ResolvedModel

    resolved = ResolvedModel("gpt-4o-mini", Provider("bench", url, None, kind="local"), "sk-bench")
    return ChatBroker(resolved, RateLimits(concurrency=CONCURRENCY, **limits), Retry(max_attempts=20))


def _jobs(n: int, start: int = 0) -> list[Any]:
    from bfnb.brokers import Job
    from bfnb.keys import request_key

    jobs = []
    for i in range(start, start + n):
        b = body(i)
        jobs.append(Job(request_key("bench", b), "chat", b, est_input_tokens=80, max_output_tokens=20))
    return jobs


def measure_broker(url: str, n: int) -> dict[str, Any]:
    from bfnb.executor.loop import run_sync

    broker = _broker(url)
    jobs = _jobs(n)
    records: list[Any] = []
    return _timed("c2) ChatBroker.run, cold", n,
                  lambda: sum(r.status == "done" for r in run_sync(broker.run(jobs, on_record=records.append)).values()))  # fmt: skip


# --- (c), (d), (e) through the AskLLM op, each in a fresh process ---------------------------------

_ASK = """
import json, shutil, sys, time
t0 = time.perf_counter()
import bfnb as bf
from bfnb.op import AskLLM, FromList
from bfnb.brokers import RateLimits, Retry, get_broker
n, rpm, drop_checkpoints, user_limits = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
if user_limits:  # the user sets 256 in flight (and the server's RPM when it has one)
    limits = RateLimits(concurrency=256, rpm=float(rpm)) if rpm != "none" else RateLimits(concurrency=256)
else:  # defaults, as a new user runs it: concurrency adapts, the RPM is learnt from the headers
    limits = None
get_broker("chat", "gpt-4o-mini@openai", limits=limits, retry=Retry(max_attempts=20))
broker = get_broker("chat", "gpt-4o-mini@openai")
with bf.ProjectFolder("bench", 1, 0, 0) as project:
    if drop_checkpoints:
        shutil.rmtree(project.checkpoint_dir, ignore_errors=True)
    rows = [{"i": i, "note": PROMPT} for i in range(n)]
    t1 = time.perf_counter()
    g = FromList(rows) | AskLLM("{i}: {note}", model="gpt-4o-mini@openai", max_completion_tokens=20)
    out = g.run()
t2 = time.perf_counter()
cost = g.cost().loc["total"]
print(json.dumps({"seconds": t2 - t1, "startup": t1 - t0, "rows": len(out), "done": int((out["status"] == "done").sum()),
                  "sent": int(cost["calls_sent"]), "cached": int(cost["calls_cached"]),
                  "concurrency": broker.limits.concurrency}))
"""


def _ask(url: str, n: int, data_dir: Path, *, rpm: int | None = None, drop_checkpoints: bool = False,
         user_limits: bool = False, root: Path = ROOT) -> dict[str, Any]:  # fmt: skip
    """Run the AskLLM pipeline in a new process with bfnb from ``root`` (a checkout), as a user would:
    with Python's bytecode cache on (an installed package has its ``.pyc`` files)."""
    env = {**os.environ, "PYTHONPATH": str(root), "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-bench",
           "BFNB_DATA_DIR": str(data_dir)}  # fmt: skip
    env.pop("BFNB_OFFLINE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = f"PROMPT = {PROMPT!r}\n" + _ASK
    res = subprocess.run([sys.executable, "-c", code, str(n), str(rpm or "none"), "1" if drop_checkpoints else "0",
                          "1" if user_limits else "0"],
                         capture_output=True, text=True, env=env, cwd=root)  # fmt: skip
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return orjson.loads(res.stdout.strip().splitlines()[-1])


def measure_askllm(url: str, n: int, data_dir: Path, *, user_limits: bool = False) -> dict[str, Any]:
    """(c) AskLLM over ``n`` entries, cold, in a fresh process and project, with no limits set
    (the concurrency adapts); (c3) the same with the user's ``RateLimits(concurrency=256)``."""
    r = _ask(url, n, data_dir, user_limits=user_limits)
    name = "c3) AskLLM, cold, user-set 256 in flight" if user_limits else "c) AskLLM, cold, no limits set"
    out = {"name": name, "n": n, "ok": r["done"], "seconds": r["seconds"], "rps": n / r["seconds"]}
    print(f"  {out['name']}: {n:,} entries in {r['seconds']:.1f} s = {out['rps']:,.0f} req/s "
          f"({r['sent']:,} sent, {r['done']:,} done, concurrency at the end {r['concurrency']})")  # fmt: skip
    return out


def measure_rerun(url: str, n: int, data_dir: Path, repeat: int = 1, compare: Path | None = None) -> dict[str, Any]:
    """(d) the cold pipeline again in a new process; (d2) the same with node checkpoints deleted.

    Best of ``repeat`` rounds; with ``compare`` (another checkout of bfnb, e.g. main before a change),
    each round runs it too, interleaved, on the same project folder (each version re-reads the
    checkpoint it wrote itself: its d2 run writes it, its d run reads it).
    """
    roots = {"this checkout": ROOT, **({f"{compare}": compare} if compare else {})}
    best: dict[str, dict[str, float]] = {k: {"d": float("inf"), "d2": float("inf")} for k in roots}
    sent, startup = 0, 0.0
    for _ in range(repeat):
        for label, root in roots.items():
            r2 = _ask(url, n, data_dir, drop_checkpoints=True, root=root)
            r = _ask(url, n, data_dir, root=root)
            best[label]["d2"] = min(best[label]["d2"], r2["seconds"])
            best[label]["d"] = min(best[label]["d"], r["seconds"])
            sent += r["sent"] + r2["sent"]
            startup = r["startup"]
    mine = best["this checkout"]
    out = {"name": "d) AskLLM re-run in a new process", "rows_per_s": n / mine["d"], "sent": sent,
           "ledger_rows_per_s": n / mine["d2"], "ledger_sent": sent}  # fmt: skip
    for label, b in best.items():
        print(f"  d) {label}: {n:,} rows in {b['d'] * 1000:.0f} ms = {n / b['d']:,.0f} rows/s; "
              f"d2) without node checkpoints (every row looked up in the ledger): {b['d2'] * 1000:.0f} ms = "
              f"{n / b['d2']:,.0f} rows/s (best of {repeat})")  # fmt: skip
    if compare:
        other = best[f"{compare}"]
        print(
            f"  d) this checkout / {compare}: {other['d'] / mine['d']:.2f}x faster; d2: {other['d2'] / mine['d2']:.2f}x"
        )
    print(f"  ({sent} calls sent in all; interpreter start and imports before the timed part: {startup:.1f} s)")
    return out


def measure_askllm_limited(url: str, rpm: int, seconds: float, data_dir: Path) -> dict[str, Any]:
    """(e) AskLLM over ``rpm * seconds / 60`` entries against a server limit of ``rpm``."""
    control(url, "/configure", {"rpm": rpm})
    control(url, "/reset_stats", {})
    n = int(rpm * seconds / 60)
    r = _ask(url, n, data_dir, rpm=rpm)
    stats = control(url, "/stats")
    control(url, "/configure", {"rpm": None})
    by_status = {int(k): v for k, v in stats["by_status"].items()}
    ok, n429 = by_status.get(200, 0), by_status.get(429, 0)
    out = {"name": f"e) AskLLM under a server limit of {rpm:,} RPM (advertised in headers), no limits set", "answered": ok, "share_of_limit": ok / (rpm * r["seconds"] / 60),
           "429s": n429, "429_fraction": n429 / max(1, ok + n429), "done": r["done"]}  # fmt: skip
    print(f"  {out['name']}: {n:,} entries in {r['seconds']:.1f} s, {ok:,} answered = {out['share_of_limit']:.1%} "
          f"of the limit, {n429} answers 429 ({out['429_fraction']:.2%}), {r['done']:,} done")  # fmt: skip
    return out


# --- (e) under a rate limit ---------------------------------------------------------------------


def measure_rate_limited(url: str, rpm: int, seconds: float) -> dict[str, Any]:
    """Run the broker for ``seconds`` against a server limit of ``rpm``; share of the limit, 429s."""
    from bfnb.executor.loop import get_loop, run_sync

    control(url, "/configure", {"rpm": rpm})
    control(url, "/reset_stats", {})
    broker = _broker(url, rpm=rpm)
    n = int(rpm * seconds / 60 * 1.5) + 1000  # more than it may send: the clock, not the queue, ends it
    jobs = _jobs(n, start=10_000_000)
    done_at: list[float] = []
    t0 = time.perf_counter()
    get_loop().call_later(seconds, broker.cancel)
    run_sync(broker.run(jobs, on_record=lambda r: done_at.append(time.perf_counter())))
    elapsed = time.perf_counter() - t0
    stats = control(url, "/stats")
    control(url, "/configure", {"rpm": None})
    by_status = {int(k): v for k, v in stats["by_status"].items()}
    ok, n429 = by_status.get(200, 0), by_status.get(429, 0)
    steady = [t for t in done_at if t - t0 >= 5.0]
    steady_share = len(steady) / (rpm * (elapsed - 5.0) / 60) if elapsed > 5 else float("nan")
    out = {
        "name": f"e2) ChatBroker under {rpm:,} RPM for {elapsed:.0f} s",
        "answered": ok,
        "share_of_limit": ok / (rpm * elapsed / 60),
        "steady_share_of_limit": steady_share,
        "429s": n429,
        "429_fraction": n429 / max(1, ok + n429),
    }
    print(f"  {out['name']}: {ok:,} answered = {out['share_of_limit']:.1%} of the limit "
          f"(after the first 5 s: {steady_share:.1%}), {n429} answers 429 ({out['429_fraction']:.2%})")  # fmt: skip
    return out


# --- running ------------------------------------------------------------------------------------


def _timed(name: str, n: int, fn: Any) -> dict[str, Any]:
    c0, t0 = cpu(), time.perf_counter()
    ok = fn()
    wall, cpu_s = time.perf_counter() - t0, cpu() - c0
    out = {"name": name, "n": n, "ok": ok, "seconds": wall, "rps": n / wall, "cpu_ms_per_call": 1000 * cpu_s / n}
    print(f"  {name}: {n:,} requests in {wall:.1f} s = {out['rps']:,.0f} req/s, "
          f"{out['cpu_ms_per_call']:.2f} ms CPU per call, {ok:,} ok")  # fmt: skip
    return out


def _best(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    return new if old is None or new["rps"] > old["rps"] else old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="a,b,c,c2,d,e", help="comma-separated measurements to run (also e2)")
    ap.add_argument("--n", type=int, default=20_000, help="requests for (a) and (c)")
    ap.add_argument("--openai-n", type=int, default=3_000, help="requests for (b)")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--rpm", type=int, default=30_000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--repeat", type=int, default=1, help="alternated runs of (a) and (c), rounds of (d); the best counts"
    )
    ap.add_argument("--compare", type=Path, default=None,
                    help="another checkout of bfnb (e.g. a worktree of main before a change) to run (d) with too, interleaved")  # fmt: skip
    args = ap.parse_args()
    only = set(args.only.split(","))
    url, proc = start_server(args.latency)
    print(f"server {url}, latency {args.latency * 1000:.0f} ms, concurrency {CONCURRENCY}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")  # fmt: skip
    res: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bfnb-bench-"))
    try:
        for r in range(args.repeat):  # on a shared machine, the best of a few alternated runs
            if "a" in only:
                res["a"] = _best(res.get("a"), measure_bare_aiohttp(url, args.n))
            if "c" in only:
                res["c"] = _best(res.get("c"), measure_askllm(url, args.n, tmp / f"cold{r}"))
            if "c3" in only:
                res["c3"] = _best(res.get("c3"), measure_askllm(url, args.n, tmp / f"user{r}", user_limits=True))
            if "c2" in only:
                res["c2"] = _best(res.get("c2"), measure_broker(url, args.n))
        if "d" in only:
            if "c" not in res:
                measure_askllm(url, args.n, tmp / "cold0")
            res["d"] = measure_rerun(url, args.n, tmp / "cold0", args.repeat, args.compare)
        if "b" in only:
            res["b"] = measure_openai_client(url, args.openai_n)
        if "e" in only:
            res["e"] = measure_askllm_limited(url, args.rpm, args.seconds, tmp / "limited")
        if "e2" in only:
            res["e2"] = measure_rate_limited(url, args.rpm, args.seconds)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    if "c" in res:
        c = res["c"]["rps"]
        if "a" in res:
            print(f"  (c)/(a) = {c / res['a']['rps']:.2f}   (target >= 0.8)")
        if "b" in res:
            print(f"  (c)/(b) = {c / res['b']['rps']:.1f}   (target >= 4)")
    if "d" in res:
        print(f"  (d) {res['d']['rows_per_s']:,.0f} rows/s   (target >= 300,000; d2 from the ledger: "
              f"{res['d']['ledger_rows_per_s']:,.0f} rows/s)")  # fmt: skip
    if "e" in res:
        e = res["e"]
        print(f"  (e) share {e['share_of_limit']:.1%} (target >= 95%), 429s {e['429_fraction']:.2%} (target < 1%)")


if __name__ == "__main__":
    main()
