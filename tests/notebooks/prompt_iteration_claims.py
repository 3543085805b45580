"""What notebooks/6_prompt_iteration.ipynb's prose claims, checked against its outputs (by cell id).

Four versions of one prompt slot are kept and listed; version 1 scores nothing, version 2 never
answers "neutral", version 3 is far better than version 2 and the paired test calls that real,
version 4 (a schema) answers in columns ``label`` and ``reason`` and scores like version 3, and
comparing sends no call.  The claims are those of an offline run (the local model).
"""

from __future__ import annotations

import re

from .nbchecks import WIDGET_VIEW

NAME = "6_prompt_iteration.ipynb"


def _plain(nb, cell_id: str) -> str:
    cells = [c for c in nb.cells if c.get("id") == cell_id]
    if not cells:
        raise KeyError(f"no cell {cell_id!r} in {NAME}")
    parts = []
    for o in cells[0].get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif "data" in o and WIDGET_VIEW not in o["data"]:
            parts.append(str(o["data"].get("text/plain", "")))
    return "\n".join(parts)


def check_prompt_iteration(nb) -> list[str]:
    p = []
    listing = _plain(nb, "pi-15")
    if "4 versions of 'classify'" not in listing or "nothing sent" not in listing:
        p.append("pi-15: the prose says four versions are listed, read from disk; the listing shows otherwise")
    if not re.search(r"classify\s+v4\s+prompt, output_key, response_format", listing):
        p.append("pi-15: version 4 should say what changed: prompt, output_key, response_format")
    scores = _plain(nb, "pi-19")
    acc = {m[1]: float(m[2]) for m in re.finditer(r"^classify (v\d)\s+([0-9.]+)", scores, re.M)}
    if set(acc) != {"v1", "v2", "v3", "v4"}:
        return [*p, f"pi-19: expected scores of v1..v4, got {sorted(acc)}"]
    if acc["v1"] != 0:
        p.append(f"pi-19: the prose says version 1 scores nothing; it scores {acc['v1']}")
    if not acc["v2"] < acc["v3"] or acc["v3"] < 0.8:
        p.append(f"pi-19: the prose says version 3 is far better than version 2, and good: {acc}")
    if acc["v4"] < acc["v3"] - 0.1:
        p.append(f"pi-19: the prose says version 4 asks what version 3 asks, with a schema: {acc}")
    pair = next((ln for ln in scores.splitlines() if ln.startswith("classify v2 vs classify v3")), "")
    if "classify v3 better, a real difference" not in pair:
        p.append(f"pi-19: the prose says the paired test finds version 3's lead over version 2 real: {pair!r}")
    if "calls sent by compare: 0" not in scores:
        p.append("pi-19: the prose says comparing sends no call")
    conf = _plain(nb, "pi-21").strip().splitlines()
    cols = conf[0].split()[1:] if conf else []  # "answer  negative  neutral  positive"
    rows = {ln.split()[0]: [int(x) for x in ln.split()[1:]] for ln in conf[2:] if ln.split()}
    if not rows:
        p.append("pi-21: the prose shows version 2's confusion table; the cell shows none")
    elif "neutral" in cols and any(r[cols.index("neutral")] for r in rows.values()):
        p.append(f"pi-21: the prose says version 2 never answers neutral; its confusion table: {conf}")
    columns = _plain(nb, "pi-13").splitlines()[0] if _plain(nb, "pi-13").strip() else ""
    if "reason" not in _plain(nb, "pi-13") or "label" not in columns:
        p.append("pi-13: the prose says the structured answer arrives as columns label and reason")
    return p
