"""The same graphs on the local engine and on Ray (a local Ray started in the child), side by side.

(1) a 1M-entry data pipeline: FromList → MapField (strip + lower) → Filter (~half) → MapField (len)
    → WriteJsonl;
(2) a 20,000-call LLM pipeline: FromList → AskLLM → MapField (len of the answer), cold, against the
    package's OpenAI-compatible server in its own process (200 ms latency).

Each run is a fresh subprocess (fresh memo, fresh project for (2)); Ray's start-up is timed
apart from the run.  Prints seconds per engine and the ratio ray / local.

    .venv/bin/python bench/ray_engine.py [--rows 1000000] [--calls 20000] [--latency 0.2] [--only data,llm]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
engine, what, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t0 = time.perf_counter()
import bfnb as bf
from bfnb.op import AskLLM, Filter, FromList, MapField, WriteJsonl
bf.options.progress = False
if engine == "ray":
    from bfnb.engines.ray import ensure_ray
    ensure_ray()
t1 = time.perf_counter()
if what == "data":
    rows = [{"text": f"  The Quick Brown Fox {i} Jumps Over The Lazy Dog  "} for i in range(n)]
    g = (FromList(rows) | MapField(lambda t: t.strip().lower(), "text") | Filter(lambda t: len(t) % 2 == 0, "text")
         | MapField(len, "text", "length") | WriteJsonl(out))
else:
    with bf.ProjectFolder("bench_ray", 1, 0, 0):
        rows = [{"i": i} for i in range(n)]
        g = FromList(rows) | AskLLM("Say one word about the number {i}.", model="gpt-4o-mini@openai", max_completion_tokens=20) \
            | MapField(len, "text", "answer_len")
t2 = time.perf_counter()
res = g.run(engine=engine)
t3 = time.perf_counter()
done = int((res["status"] == "done").sum()) if "status" in res.columns else len(res)
print(json.dumps({"startup": t1 - t0, "build": t2 - t1, "seconds": t3 - t2, "rows": len(res), "done": done}))
"""

_SERVER = """
import sys
from bfnb.local.httpserver import LocalServer
s = LocalServer(latency_s=float(sys.argv[1])).start()
print(s.url, flush=True)
sys.stdin.read()
s.stop()
"""


def child(engine: str, what: str, n: int, out: Path, env: dict[str, str]) -> dict:
    res = subprocess.run([sys.executable, "-c", _CHILD, engine, what, str(n), str(out)],
                         capture_output=True, text=True, env=env, cwd=ROOT)  # fmt: skip
    if res.returncode:
        raise SystemExit(f"{engine} {what} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--only", default="data,llm")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bfnb-ray-bench-"))
    base = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    print(f"{'pipeline':>22} {'engine':>6} {'start s':>8} {'run s':>8} {'rows':>9}")
    if "data" in args.only:
        got = {}
        for engine in ("local", "ray"):
            r = got[engine] = child(engine, "data", args.rows, tmp / f"data_{engine}.jsonl", base)
            print(
                f"{f'data, {args.rows:,} rows':>22} {engine:>6} {r['startup']:>8.1f} {r['seconds']:>8.1f} {r['rows']:>9}",
                flush=True,
            )
        same = (tmp / "data_local.jsonl").read_bytes() == (tmp / "data_ray.jsonl").read_bytes()
        print(f"{'':>22} ratio ray/local {got['ray']['seconds'] / got['local']['seconds']:.2f}x; same file: {same}")
    if "llm" in args.only:
        server = subprocess.Popen([sys.executable, "-c", _SERVER, str(args.latency)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=base, cwd=ROOT)  # fmt: skip
        url = server.stdout.readline().strip() if server.stdout else ""
        try:
            got = {}
            for engine in ("local", "ray"):
                env = {**base, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-bench", "BFNB_DATA_DIR": str(tmp / engine)}
                env.pop("BFNB_OFFLINE", None)
                r = got[engine] = child(engine, "llm", args.calls, tmp / "unused", env)
                print(
                    f"{f'LLM, {args.calls:,} calls':>22} {engine:>6} {r['startup']:>8.1f} {r['seconds']:>8.1f} {r['done']:>9}",
                    flush=True,
                )
            print(
                f"{'':>22} ratio ray/local {got['ray']['seconds'] / got['local']['seconds']:.2f}x "
                f"(server latency {args.latency * 1000:.0f} ms)"
            )
        finally:
            if server.stdin:
                server.stdin.close()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
