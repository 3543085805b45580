"""Ledger at a million calls: write, load (index build), lookups.

    .venv/bin/python bench/ledger_load.py [--n 1000000] [--keep DIR]

Writes N synthetic call records (~600 bytes each, the shape a chat call leaves) with
``append_many`` in batches of 10,000, then, in a fresh process so that peak RSS is the reader's
own, opens the ledger and times random ``get`` and ``get_many`` lookups, ``stats`` and
``done_keys_mask``.  The file is in the OS page cache (warm), as after a notebook kernel restart.
Wall and CPU times are both printed (on a shared machine CPU time is the steadier one), next to
the floor that orjson alone sets for the same records.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bfnb.ledger import CallRecord, Ledger

WORDS = [
    *("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while"),
    *("autumn", "leaves", "drift", "on", "a", "quiet", "river"),
]


def key(i: int) -> str:
    return hashlib.md5(i.to_bytes(8, "little")).hexdigest()


POEMS = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(8)) for i in range(len(WORDS))]
SYSTEM = {"role": "system", "content": "You are a helpful poet."}


def record(i: int) -> CallRecord:
    return CallRecord(
        key=key(i),
        status="failed" if i % 97 == 0 else "done",
        kind="chat",
        provider="openai",
        model="gpt-4o-mini",
        request={
            "model": "gpt-4o-mini",
            "messages": [
                SYSTEM,
                {"role": "user", "content": f"Write a short poem about the myth number {i}."},
            ],
            "temperature": 0.7,
            "max_tokens": 256,
        },
        response={"content": POEMS[i % len(POEMS)], "finish_reason": "stop"},
        input_tokens=31,
        output_tokens=24,
        cost_usd=1.9e-5,
        t_sent=1.75e9 + i * 0.01,
        t_done=1.75e9 + i * 0.01 + 0.8,
        origin={"op": "poems", "idx": f"myths.md:{i}"},
    )


def rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: ru_maxrss would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mem_now() -> str:
    """Current resident memory split into private (anon) and mapped-file pages."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    anon, file = (int(status[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile"))
    return f"{anon:.0f} MB private + {file:.0f} MB of mapped file pages"


class Timer:
    """Wall and CPU seconds of a block (the machine is shared: CPU time is the steadier figure)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rate(self, n: int, unit: str) -> str:
        return f"{n / self.wall:>11,.0f} {unit}/s wall, {n / self.cpu:,.0f}/s CPU"


def write(folder: Path, n: int) -> None:
    build = floor = 0.0
    sampled = 0
    put = Timer()
    put.wall = put.cpu = 0.0
    with Ledger(folder) as ledger, open(os.devnull, "wb") as null:
        for start in range(0, n, 10_000):
            t = time.perf_counter()
            batch = [record(i) for i in range(start, min(n, start + 10_000))]
            build += time.perf_counter() - t
            with Timer() as tm:
                ledger.append_many(batch)
            put.wall += tm.wall
            put.cpu += tm.cpu
            if start % 100_000 == 0:  # the floor: plain orjson lines, no key check, index or lock
                t = time.process_time()
                null.write(b"".join([orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in batch]))
                floor += time.process_time() - t
                sampled += len(batch)
    size = (folder / "calls.jsonl").stat().st_size
    print(f"records            {n:,}  ({size / n:.0f} bytes each, {size / 1e6:.0f} MB)")
    print(f"write              {put.wall:.2f} s wall, {put.cpu:.2f} s CPU: append_many = encode + locked write")
    per, plain = put.cpu / n * 1e6, floor / sampled * 1e6
    print(f"                   {per:.1f} us CPU a record; plain orjson.dumps of the record: {plain:.1f} us")
    print(f"                   ({build:.1f} s more to build the CallRecord objects, not counted)")


def read(folder: Path, n: int) -> None:
    base = rss_mb()  # the interpreter with bfnb (numpy, pandas) imported
    with Timer() as tm:
        ledger = Ledger(folder)
    print(f"load (index build) {tm.wall:.2f} s wall, {tm.cpu:.2f} s CPU  ({len(ledger):,} keys)")
    print(f"peak RSS           {rss_mb():.0f} MB after load; imports alone {base:.0f} MB")

    rng = random.Random(1)
    probe = [key(rng.randrange(n)) for _ in range(100_000)]
    with Timer() as tm:
        for k in probe:
            ledger.get(k)
    print(f"get() hit          {tm.rate(len(probe), 'lookups')} (random keys, CallRecord built)")
    missing = [key(n + i) for i in range(100_000)]
    with Timer() as tm:
        for k in missing:
            ledger.get(k)
    print(f"get() miss         {tm.rate(len(missing), 'lookups')} (each miss checks the file size)")

    for run in range(3):
        keys = [key(rng.randrange(n)) for _ in range(20_000)]
        with Timer() as tm:
            got = ledger.get_many(keys)
            gc.collect(0)
        assert all(g is not None and g.key == k for g, k in zip(got, keys, strict=True))
        print(f"get_many(20k) #{run + 1}   {tm.rate(len(keys), 'records')} (CallRecords)")
        lines = [orjson.dumps(g.to_dict()) for g in got if g is not None]
        del got  # freeing 20k records is not the next call's cost
    gc.disable()  # as get_many does
    with Timer() as tm:
        parsed = [orjson.loads(b) for b in lines]
        gc.enable()
        gc.collect(0)  # ... and pay the collection it puts off
    print(f"  floor: orjson.loads  {tm.rate(len(parsed), 'records')} (the same 20k lines, GC paused)")
    with Timer() as tm:
        st = ledger.stats()
    cost, failed = st["cost_usd"], st["failed"]
    print(f"stats()            {tm.wall:.2f} s wall, {tm.cpu:.2f} s CPU (${cost:.2f}, {failed:,} failed)")

    keys = [key(rng.randrange(2 * n)) for _ in range(1_000_000)]
    with Timer() as tm:
        mask = ledger.done_keys_mask(keys)
    print(f"done_keys_mask(1M) {tm.wall:.2f} s wall, {tm.cpu:.2f} s CPU ({sum(mask):,} done)")
    print(f"peak RSS           {rss_mb():.0f} MB at the end; now {mem_now()}")
    ledger.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--keep", help="write into this folder and keep it")
    p.add_argument("--read-only", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.read_only:
        read(Path(a.read_only), a.n)
        return
    folder = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bfnb-ledger-bench-"))
    try:
        t = time.perf_counter()
        write(folder, a.n)
        subprocess.run([sys.executable, __file__, "--n", str(a.n), "--read-only", str(folder)], check=True)
        print(f"total              {time.perf_counter() - t:.1f} s")
    finally:
        if not a.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
