"""Time ``batch_to_jsonl_bytes`` on 100k and 1M entries (a ~200-char text, an int, a short str).

Prints the best wall time and the best CPU time of a few runs (CPU time is the steadier figure
on a shared machine), and, for reference, the per-row way: ``to_records`` + ``orjson.dumps``.

Run: .venv/bin/python bench/jsonl_write.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from bfnb import batch as B
from bfnb.convert import batch_to_jsonl_bytes
from bfnb.formats.jsonl import dumps_line


def make(n: int):
    """n entries: ~200 characters of text (with quotes, tabs, non-ASCII), an int, a short str."""
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "épsilon", "zeta", 'quo"te', "tab\t"])
    base = " ".join(rng.choice(words, 40).tolist())[:200]
    return B.from_columns(
        [f"e{i}" for i in range(n)],
        {
            "text": [f"{i} {base}" for i in range(n)],
            "n": np.arange(n),
            "kind": [("odd", "even")[i % 2] for i in range(n)],
        },
    )


def per_row(df) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in B.to_records(df))


def best_of(fn, k: int) -> tuple[float, float]:
    wall = cpu = float("inf")
    for _ in range(k):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def main() -> None:
    for n in (100_000, 1_000_000):
        df = make(n)
        out = batch_to_jsonl_bytes(df)
        assert out.count(b"\n") == n
        assert out.split(b"\n", 1)[0] + b"\n" == dumps_line(B.to_records(df.iloc[:1])[0])
        wall, cpu = best_of(lambda df=df: batch_to_jsonl_bytes(df), 7 if n <= 100_000 else 3)
        mb = len(out) / 1e6
        print(
            f"batch_to_jsonl_bytes {n:>9,} rows ({mb:6.1f} MB): "
            f"wall {wall * 1e3:7.1f} ms  cpu {cpu * 1e3:7.1f} ms  ({mb / wall:5.0f} MB/s)"
        )
        if n <= 100_000:
            wall, cpu = best_of(lambda df=df: per_row(df), 3)
            label = "  per-row to_records + orjson.dumps:"
            print(f"{label:44s}wall {wall * 1e3:7.1f} ms  cpu {cpu * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
