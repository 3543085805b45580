"""How long a notebook cell takes over a big in-memory source, measured over the whole cell.

    .venv/bin/python bench/cell.py [--n 1000000] [--small 1000] [--repeat 5]

Starts a real IPython kernel (jupyter_client, as JupyterLab does), sends each cell as an
``execute_request`` carrying a cell id (as JupyterLab does, so a re-run replaces what the cell
added), and times from the request to the kernel's return to idle, after it has published the
cell's display (text and HTML).  So a figure covers everything a person waits for: the cell hook,
planning and fingerprints, memo lookups, the op's own work and rendering the table.

Cells, for a ``FromList`` of ``--n`` entries and, side by side, of ``--small`` entries:

* build: ``g = bf.Graph(); g |= FromList(data)`` (copies and hashes the data once: the op's work);
* re-run: a cell ``g |= MapField(...)`` run again unchanged (everything from the memo);
* show: a cell holding ``g`` (the graph's view);
* take: a new cell ``g |= TakeFirstN(10)`` (the op's own work is 10 rows);
* and ``pass``: the kernel's round trip, the floor of any cell.

Targets (issue 10): re-run and take ≤ 50 ms whatever the data size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Kernel:
    """A real kernel, with cells sent the way JupyterLab sends them (with a cell id)."""

    def __init__(self) -> None:
        from jupyter_client.manager import KernelManager

        env = {**os.environ, "PYTHONPATH": str(ROOT), "BFNB_OFFLINE": "1"}
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=str(ROOT))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, cell_id: str) -> tuple[float, str]:
        """Seconds from the request to idle; the text the cell displayed (or its error)."""
        kc = self.kc
        msg = kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                 "user_expressions": {}, "allow_stdin": False,
                                                 "stop_on_error": True})  # fmt: skip
        msg["metadata"] = {"cellId": cell_id}
        t = time.perf_counter()
        kc.shell_channel.send(msg)
        shown, error = "", ""
        while True:
            m = kc.get_iopub_msg(timeout=600)
            if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            kind, content = m["msg_type"], m["content"]
            if kind in ("execute_result", "display_data"):
                shown += content["data"].get("text/plain", "")
            elif kind == "error":
                error = "\n".join(content["traceback"][-3:])
            elif kind == "status" and content["execution_state"] == "idle":
                break
        dt = time.perf_counter() - t
        kc.get_shell_msg(timeout=60)
        if error:
            raise RuntimeError(f"cell failed: {code!r}\n{error}")
        return dt, shown

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


SETUP = """
import bfnb as bf
from bfnb.op import *
data = [{{"text": f"Entry {{i}}: the quick brown fox jumps over the lazy dog " * 3, "n": i}} for i in range({n})]
"""


def measure(k: Kernel, n: int, repeat: int) -> dict[str, Any]:
    ids = {name: uuid.uuid4().hex[:8] for name in ("setup", "build", "map", "show", "take", "pass")}
    k.run(SETUP.format(n=n), ids["setup"])
    out: dict[str, Any] = {"n": n}
    out["build"], _ = k.run("g = bf.Graph()\ng |= FromList(data)", ids["build"])
    first, _ = k.run('g |= MapField(lambda t: t[:20], "text", "head")', ids["map"])
    out["map first"] = first
    out["re-run"] = statistics.median(
        k.run('g |= MapField(lambda t: t[:20], "text", "head")', ids["map"])[0] for _ in range(repeat)
    )
    out["show"] = statistics.median(k.run("g", ids["show"])[0] for _ in range(repeat))
    takes = []
    for i in range(repeat):  # each time a new cell (a new id) and a new op: its own work, not a memo hit
        dt, shown = k.run(f"g2 = g\ng2 |= TakeFirstN({10 + i})", uuid.uuid4().hex[:8])
        takes.append(dt)
    out["take"] = statistics.median(takes)
    out["shown"] = shown
    out["pass"] = statistics.median(k.run("pass", ids["pass"])[0] for _ in range(repeat))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--show-output", action="store_true", help="print what the take cell displayed")
    args = ap.parse_args()
    k = Kernel()
    try:
        small = measure(k, args.small, args.repeat)
        big = measure(k, args.n, args.repeat)
    finally:
        k.close()
    ms = lambda s: f"{s * 1000:8.1f} ms"  # noqa: E731
    print(f"notebook cells over FromList (real kernel, median of {args.repeat}): {args.n:,} entries vs {args.small:,}")
    rows = [
        ("build: g |= FromList(data) (copy + hash once)", "build", None),
        ("first run of g |= MapField(...) (its own work)", "map first", None),
        ("re-run that cell, unchanged (all memo)", "re-run", 0.050),
        ("a cell showing g", "show", 0.050),
        ("new cell g |= TakeFirstN(10)", "take", 0.050),
        ("an empty cell (kernel round trip)", "pass", None),
    ]
    for label, key, target in rows:
        verdict = (
            "" if target is None else f"   target ≤ {target * 1000:.0f} ms: {'met' if big[key] <= target else 'MISSED'}"
        )
        print(f"  {label:<50} {ms(big[key])}   ({args.small:,}: {ms(small[key])}){verdict}")
    if args.show_output:
        print(big["shown"])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
