"""What reading integers beyond 64 bits exactly costs the JSONL reader (issue #11).

orjson reads such an integer as a float, so every line is first scanned for a run of 20 digits
(``bfnb.formats.jsonl.may_hold_big_int``) and only such lines are parsed again by the standard
library.  Printed side by side for 1M ordinary lines (no big integer): orjson's parse, the scan, and
the regex the scan replaced; then the whole ``read_jsonl`` over the same lines.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import orjson

from bfnb.formats.jsonl import may_hold_big_int, read_jsonl

N = 1_000_000


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    lines = [
        orjson.dumps({"text": f"some text number {i} with words", "n": i, "score": i / 7}) + b"\n" for i in range(N)
    ]
    regex = re.compile(rb"\d{20}")
    parse = best(lambda: [orjson.loads(x) for x in lines])
    scan = best(lambda: [may_hold_big_int(x) for x in lines])
    rx = best(lambda: [regex.search(x) for x in lines])
    print(f"{N:,} lines of ~{sum(map(len, lines)) // N} bytes")
    print(f"orjson.loads          {parse:6.2f} s  ({parse / N * 1e6:.2f} µs/line)")
    print(f"20-digit scan (used)  {scan:6.2f} s  ({scan / N * 1e6:.2f} µs/line, {scan / parse:.0%} of parsing)")
    print(f"regex \\d{{20}} (not)   {rx:6.2f} s  ({rx / N * 1e6:.2f} µs/line, {rx / parse:.0%} of parsing)")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "a.jsonl"
        p.write_bytes(b"".join(lines))
        whole = best(lambda: sum(1 for _ in read_jsonl(p)), repeat=1)
        print(f"read_jsonl, whole     {whole:6.2f} s  (the scan is {scan / whole:.0%} of it)")


if __name__ == "__main__":
    main()
