"""A row-wise pipeline over 100k entries, next to plain Python and pandas doing the same work, in one run.

    .venv/bin/python bench/rowwise.py [--n 100000] [--repeat 5]

``FromList(texts, "text") → MapField(strip + lower) → Filter(a function of the whole entry:
e["text"].count("e") is even, about half) → MapField(len → "length") → ToList("length")``, timed
from building the graph (FromList copies and hashes its input then) to the list, with a cleared
memo: a whole first run.  Side by side, best of ``--repeat``, interleaved:

* plain Python: three list comprehensions doing the same calls, with a dict per entry for the
  filter as the entry-wise function needs: the floor of any pipeline that calls user functions;
* pandas, written the straightforward way (``Series.map``, ``to_dict("records")`` for the
  whole-entry filter).

Target (issue 10): ≤ 0.25 s at 100k (batchfactory 0.6.2 took 11–16 s on this machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "autumn", "leaves", "drift"]


def make_texts(n: int) -> list[str]:
    k = len(WORDS)
    return [
        f"  Entry {i}: " + " ".join(WORDS[(i * 7 + j * (i % 5 + 1)) % k] for j in range(36)).capitalize() + "  "
        for i in range(n)
    ]


def clean(t: str) -> str:
    return t.strip().lower()


def keep(entry: dict) -> bool:
    return entry["text"].count("e") % 2 == 0


def bfnb_way(texts: list[str]) -> list[int]:
    from bfnb.op import Filter, FromList, MapField, ToList

    g = (
        FromList(texts, "text")
        | MapField(clean, "text")
        | Filter(keep)
        | MapField(len, "text", "length")
        | ToList("length")
    )
    return g.execute()


def plain_python(texts: list[str]) -> list[int]:
    cleaned = [clean(t) for t in texts]
    kept = [t for t in cleaned if keep({"text": t})]
    return [len(t) for t in kept]


def pandas_way(texts: list[str]) -> list[int]:
    import pandas as pd

    df = pd.DataFrame({"text": texts})
    df["text"] = df["text"].map(clean)
    df = df[[keep(r) for r in df.to_dict("records")]]
    return df["text"].map(len).tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from bfnb.executor.memo import memo

    texts = make_texts(args.n)
    bfnb_way(texts[:1000])  # imports and first-use caches
    ways = {"bfnb": bfnb_way, "plain Python": plain_python, "pandas": pandas_way}
    best = dict.fromkeys(ways, float("inf"))
    results = {}
    for _ in range(args.repeat):
        for name, fn in ways.items():
            memo.clear()  # a whole first run (freeing the last run's results is not this run's work)
            t = time.perf_counter()
            results[name] = fn(texts)
            best[name] = min(best[name], time.perf_counter() - t)
    assert results["bfnb"] == results["plain Python"] == results["pandas"]
    print(f"FromList → MapField → Filter(entry) → MapField → ToList, {args.n:,} entries, best of {args.repeat}:")
    for name, s in best.items():
        extra = f"   target ≤ 0.25 s: {'met' if s <= 0.25 else 'MISSED'}" if name == "bfnb" else ""
        print(f"  {name:<14} {s:6.3f} s  {s / best['plain Python']:5.2f}x plain Python{extra}")


if __name__ == "__main__":
    main()
