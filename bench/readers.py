"""ReadJsonl on a 1M-line file, next to the well-kept parsers on the same file, in one run.

    .venv/bin/python bench/readers.py [--n 1000000] [--repeat 3]

Writes (once, under the system temp folder) a JSONL file of ``--n`` lines like
``{"text": "Entry 7: ~150 characters", "n": 7, "tag": "fox"}`` (~200 bytes each), then times, best of
``--repeat`` and interleaved so that a busy machine slows each alike:

* orjson, line by line (``map(orjson.loads, lines)``): Python objects for every record, the floor
  for a reader that keeps exact values and per-line errors;
* ``pyarrow.json.read_json``: Arrow columns (multi-threaded, but not Python values: ints and floats
  may merge, absent and null fields look alike), for reference;
* ``ReadJsonl(path).to_graph().run(use_memo=False)``: the whole source (parse, content-hash idx,
  uniqueness check, the batch); a plain file like this one is read by pyarrow (see
  ``bfnb/formats/jsonl_arrow.py``);
* the same with the pyarrow path turned off: the careful path (orjson line by line), which every
  file that is not plain takes, and which was the only path before.

Target (issue 10): ReadJsonl ≤ 1.5 s for 1M lines.  The ratio to orjson is the figure a shared
machine does not disturb.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "autumn", "leaves"]


def make_file(n: int) -> Path:
    import orjson

    path = Path(tempfile.gettempdir()) / f"bfnb_bench_{n}.jsonl"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        for i in range(n):
            text = " ".join(WORDS[(i * 7 + j * (i % 5 + 1)) % len(WORDS)] for j in range(30))
            f.write(orjson.dumps({"text": f"Entry {i}: {text}", "n": i, "tag": WORDS[i % len(WORDS)]}) + b"\n")
    tmp.rename(path)
    return path


def orjson_lines(path: Path) -> int:
    import orjson

    lines = path.read_bytes().split(b"\n")
    lines.pop()
    return len(list(map(orjson.loads, lines)))


def pyarrow_json(path: Path) -> int:
    import pyarrow.json as pj

    return pj.read_json(path).num_rows


def read_jsonl(path: Path) -> int:
    from bfnb.op import ReadJsonl

    return len(ReadJsonl(path).to_graph().run(use_memo=False))


def read_jsonl_careful(path: Path) -> int:
    from unittest import mock

    from bfnb.formats import jsonl_blocks

    with mock.patch.object(jsonl_blocks, "plain_columns", lambda body: None):
        return read_jsonl(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = make_file(args.n)
    read_jsonl(make_file(1000))  # imports and first-use caches are not the reader's work
    ways = {
        "orjson, line by line": orjson_lines,
        "pyarrow.json.read_json": pyarrow_json,
        "ReadJsonl": read_jsonl,
        "ReadJsonl, careful path": read_jsonl_careful,
    }
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(args.repeat):
        for name, fn in ways.items():
            t = time.perf_counter()
            rows = fn(path)
            best[name] = min(best[name], time.perf_counter() - t)
            assert rows == args.n, (name, rows)
    size = path.stat().st_size / 1e6
    print(f"reading {args.n:,} JSONL lines ({size:.0f} MB), best of {args.repeat}:")
    floor = best["orjson, line by line"]
    for name, s in best.items():
        extra = ""
        if name == "ReadJsonl":
            extra = f"   target ≤ 1.5 s: {'met' if s <= 1.5 else 'MISSED'}"
        if name == "ReadJsonl, careful path":
            extra = f"   fast path: {s / best['ReadJsonl']:.2f}x faster"
        print(f"  {name:<24} {s:6.2f} s  {args.n / s:>10,.0f} lines/s  {s / floor:5.2f}x orjson{extra}")


if __name__ == "__main__":
    main()
