"""A data pipeline at 100k and 1M entries: FromList → MapField → Filter → MapField → WriteJsonl.

    .venv/bin/python bench/pipeline.py [--sizes 100000,1000000] [--profile]

Each entry is a unique ~200-character text.  The pipeline strips and lower-cases it, keeps the
entries whose text has an even number of characters "e" (about half), adds a ``length`` field and
writes JSONL.  Each size runs in a fresh subprocess: its baseline peak RSS (VmHWM) is read after
the imports and a warm-up run on 1,000 entries, before the data is built, so that "peak" is what
the pipeline (with its input) adds.  The data size is ``sys.getsizeof`` of the list plus every
string.  Time is the median of 3 runs at 100k and one run at 1M, each with a cleared in-kernel
memo (a whole first run, not a cached one).  Targets: 100k < 0.25 s, 1M < 5 s, peak memory < 3x
the data.  The process CPU time is printed too: on a shared machine wall time can be several
times the CPU time the pipeline needs.  ``--profile`` prints cProfile's top functions for one run
of the first size instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "autumn",
    "leaves",
    "drift",
    "on",
    "a",
    "quiet",
    "river",
]


def vm_hwm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def make_texts(n: int) -> list[str]:
    out = []
    k = len(WORDS)
    for i in range(n):
        words = " ".join(WORDS[(i * 7 + j * (i % 5 + 1)) % k] for j in range(40))
        out.append(f"  Entry {i}: {words.capitalize()}"[:200] + "  ")
    return out


def build(texts: list[str], out_path: str):
    from bfnb.op import Filter, FromList, MapField, WriteJsonl

    return (
        FromList(texts, "text")
        | MapField(lambda t: t.strip().lower(), "text")
        | Filter(lambda t: t.count("e") % 2 == 0, "text")
        | MapField(len, "text", "length")
        | WriteJsonl(out_path)
    )


def one_size(n: int, repeats: int, profile: bool) -> dict:
    import bfnb.op
    import bfnb.op.fields
    import bfnb.op.rows
    import bfnb.op.sinks
    import bfnb.op.sources  # noqa: F401
    from bfnb.executor.memo import memo

    with tempfile.TemporaryDirectory() as d:  # warm up: lazy imports and first-use caches are not data
        build(make_texts(1000), os.path.join(d, "warm.jsonl")).run()
    memo.clear()
    baseline = vm_hwm_bytes()
    texts = make_texts(n)
    data_bytes = sys.getsizeof(texts) + sum(map(sys.getsizeof, texts))
    with tempfile.TemporaryDirectory() as d:
        out_path = os.path.join(d, "out.jsonl")
        if profile:
            import cProfile
            import pstats

            memo.clear()
            g = build(texts, out_path)
            cProfile.runctx("g.run()", globals(), {"g": g}, "/tmp/bfnb_pipeline.prof")
            pstats.Stats("/tmp/bfnb_pipeline.prof").sort_stats("tottime").print_stats(25)
            return {}
        times, cpu = [], []
        for _ in range(repeats):
            memo.clear()
            g = None
            gc.collect()  # Graph.last_run <-> RunReport.graph is a cycle: free the last run's batches now
            g = build(texts, out_path)
            t, c = time.perf_counter(), time.process_time()
            g.run()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        with open(out_path, "rb") as f:
            rows_out = sum(1 for _ in f)
        nodes = [(r.label, round(r.seconds, 3)) for r in g.last_run.nodes] if g.last_run else []
    peak = vm_hwm_bytes() - baseline
    return {
        "n": n,
        "seconds": statistics.median(times),
        "all_seconds": times,
        "cpu_seconds": statistics.median(cpu),
        "rows_out": rows_out,
        "data_mb": data_bytes / 1e6,
        "peak_mb": peak / 1e6,
        "ratio": peak / data_bytes,
        "nodes": nodes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child is not None:
        res = one_size(args.child, 3 if args.child <= 100_000 else 1, args.profile)
        print(json.dumps(res))
        return
    if args.profile:
        one_size(sizes[0], 1, True)
        return
    targets = {100_000: 0.25, 1_000_000: 5.0}
    for n in sizes:
        proc = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        target = targets.get(n)
        ok = "" if target is None else f"  (target < {target:.2f} s: {'met' if r['seconds'] < target else 'MISSED'})"
        print(
            f"{n:>9,} entries: {r['seconds']:.3f} s{ok} (cpu {r['cpu_seconds']:.3f} s)  "
            f"{n / r['seconds']:>9,.0f} rows/s  "
            f"kept {r['rows_out']:,}  data {r['data_mb']:.0f} MB  peak +{r['peak_mb']:.0f} MB  "
            f"peak/data {r['ratio']:.2f}x (target < 3x)"
        )
        print("           per op:", ", ".join(f"{label} {s:.3f}s" for label, s in r["nodes"]))


if __name__ == "__main__":
    main()
