"""Every row of issue 10's table, each next to its reference, in one run (about 6 minutes).

    .venv/bin/python bench/issue10.py [--quick]

Calls, in turn, the scripts that measure each row (each prints its figure beside its reference,
measured in the same run, so a ratio holds on a busy machine even when a wall time does not):

| issue 10 row                                             | script              | reference beside it            |
|----------------------------------------------------------|---------------------|--------------------------------|
| cell: re-run an unchanged graph over a 1M FromList       | cell.py             | the same cells over 1,000 rows |
| cell: ``g |= TakeFirstN(10)`` on that graph              | cell.py             | an empty cell (kernel round trip) |
| ReadJsonl of a 1M-line file                              | readers.py          | orjson line by line; pyarrow   |
| AskLLM, 20,000 calls, 200 ms server, no limits set       | dispatch.py (a, c)  | a bare aiohttp client at 256   |
| the same under a 30,000 RPM server limit (headers)       | dispatch.py (e)     | the advertised limit           |
| the same pipeline re-run in a new process, all cached    | dispatch.py (d)     | (d2): rows from the ledger     |
| FromList → MapField → Filter(entry) → MapField → ToList  | rowwise.py          | plain Python; pandas           |

``--quick`` runs smaller sizes (for a smoke test of the scripts, not for figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    q = args.quick
    steps = [
        ("notebook cells over a big FromList (rows 1-2)", ["cell.py", *(["--n", "100000", "--repeat", "2"] if q else [])]),
        ("ReadJsonl (row 3)", ["readers.py", *(["--n", "100000", "--repeat", "1"] if q else [])]),
        ("AskLLM with no limits set, cached re-run, RPM limit (rows 4-5)",
         ["dispatch.py", "--only", "a,c,d,e", *(["--n", "2000", "--seconds", "10"] if q else ["--seconds", "30"])]),
        ("row-wise pipeline (row 6)", ["rowwise.py", *(["--n", "20000", "--repeat", "2"] if q else [])]),
    ]  # fmt: skip
    t0 = time.perf_counter()
    for title, cmd in steps:
        print(f"\n== {title}: python bench/{' '.join(cmd)}", flush=True)
        res = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]], stderr=subprocess.PIPE, text=True)
        if res.returncode:
            print(res.stderr[-2000:])
            raise SystemExit(f"bench/{cmd[0]} failed")
    print(f"\n(all rows in {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
