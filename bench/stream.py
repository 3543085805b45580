"""ReadJsonl → MapField → WriteJsonl on the whole-batch engine and the stream engine, side by side.

For each size (1M and 10M lines by default) and each engine, in a fresh subprocess: wall time,
peak RSS of that process, and the time until the first row exists in the output's temporary
file (a watcher thread polls the output folder).  Also Sort and TakeFirstN on the stream engine
(Sort is a barrier: it gathers).  Prints a table and the ratios stream / local.

    .venv/bin/python bench/stream.py [--sizes 1000000,10000000] [--engines local,stream] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, threading, time
t0 = time.perf_counter()
first = []
def watch(folder, name):
    while not first:
        for p in os.scandir(folder):
            if p.name.startswith("." + name) and p.name.endswith(".tmp") and p.stat().st_size > 0:
                first.append(time.perf_counter() - t0)
                return
        time.sleep(0.02)
src, out, engine, shape = sys.argv[1:5]
threading.Thread(target=watch, args=(os.path.dirname(out), os.path.basename(out)), daemon=True).start()
import bfnb as bf
from bfnb.op import ReadJsonl, MapField, WriteJsonl, Sort, TakeFirstN
bf.options.progress = False
mid = {"map": MapField(str.upper, "text"), "sort": Sort("n", reverse=True), "take": TakeFirstN(1000)}[shape]
g = ReadJsonl(src) | mid | WriteJsonl(out)
g.execute(engine=engine)
took = time.perf_counter() - t0
print(json.dumps({"seconds": took, "first_row_s": first[0] if first else None, "engine": g.last_run.engine}))
"""


def make_input(path: Path, n: int) -> None:
    import orjson

    if path.exists():
        return
    text = "the quick brown fox jumps over the lazy dog " * 1
    with path.open("wb") as f:
        step = 100_000
        for start in range(0, n, step):
            f.write(
                b"".join(
                    orjson.dumps({"n": i, "text": f"{text}{i}"}) + b"\n" for i in range(start, min(n, start + step))
                )
            )


def run_child(src: Path, out: Path, engine: str, shape: str) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(src), str(out), engine, shape], stdout=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    stdout = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"{engine} {shape} failed (status {status})")
    res = json.loads(stdout.strip().splitlines()[-1])
    res["peak_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--engines", default="local,stream")
    ap.add_argument("--shapes", default="map", help="map, sort, take (comma-separated)")
    ap.add_argument("--keep", default=None, help="folder for the input files (kept between runs)")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bfnb-stream-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'lines':>10} {'shape':>5} {'engine':>7} {'seconds':>8} {'peak MB':>8} {'first row s':>11}")
    for n in [int(s) for s in args.sizes.split(",")]:
        src = folder / f"in_{n}.jsonl"
        make_input(src, n)
        size_mb = src.stat().st_size / 2**20
        for shape in args.shapes.split(","):
            got = {}
            for engine in args.engines.split(","):
                out = folder / f"out_{n}_{shape}_{engine}.jsonl"
                r = run_child(src, out, engine, shape)
                got[engine] = r
                fr = f"{r['first_row_s']:.2f}" if r["first_row_s"] is not None else "-"
                print(
                    f"{n:>10} {shape:>5} {r['engine']:>7} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} {fr:>11}",
                    flush=True,
                )
                out.unlink(missing_ok=True)
            if "local" in got and "stream" in got:
                a, b = got["local"], got["stream"]
                print(
                    f"{'':>10} {shape:>5}   ratio stream/local: time {b['seconds'] / a['seconds']:.2f}x, "
                    f"peak {b['peak_mb'] / a['peak_mb']:.2f}x (input file {size_mb:.0f} MB)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
