"""What each shipped notebook's prose claims, checked against its outputs.

A notebook is documentation that runs: when its text says "every Student turn is a question" or
"no panel appears", its outputs must show it, both as committed (what a reader sees on GitHub) and
when run again offline (what a user gets).  Each ``check_<notebook>`` reads outputs by cell id and
returns a list of problems (empty = the prose holds); :func:`problems` picks the checks for a file.
The claims are those of an offline run (the local model), which is how notebooks are committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .nbchecks import WIDGET_STATE, WIDGET_VIEW, output_text
from .prompt_iteration_claims import check_prompt_iteration  # 6_prompt_iteration's check, in its own module

REPO = Path(__file__).resolve().parents[2]
MARKER = "(local model)"
STOP = frozenset("a an and the of to in on at by for from with his her its up".split())


def cell(nb, cell_id: str):
    found = [c for c in nb.cells if c.get("id") == cell_id]
    if not found:
        raise KeyError(f"no cell {cell_id!r} in the notebook")
    return found[0]


def text_of(nb, cell_id: str) -> str:
    return "\n".join(output_text(o) for o in cell(nb, cell_id).get("outputs", []))


def plain_of(nb, cell_id: str) -> str:
    """Printed text and text/plain reprs of a cell (no HTML)."""
    parts = []
    for o in cell(nb, cell_id).get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif "data" in o and WIDGET_VIEW not in o["data"]:
            parts.append(str(o["data"].get("text/plain", "")))
    return "\n".join(parts)


def has_panel(nb, cell_id: str) -> bool:
    return any(WIDGET_VIEW in o.get("data", {}) for o in cell(nb, cell_id).get("outputs", []))


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in STOP}


def fable_titles() -> list[str]:
    """Title lines of the demo fables: a line after two blank lines, followed by a blank line."""
    return re.findall(r"\n\n\n([^\n]+)\n\n", (REPO / "demo_data" / "aesop_fables.txt").read_text())


def widget_texts(nb, view_cell_id: str) -> list[str]:
    """The HTML values of every widget below the panel shown by a cell, from the saved widget state."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    views = [o["data"][WIDGET_VIEW]["model_id"] for o in cell(nb, view_cell_id).get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    out, todo = [], list(views)
    while todo:
        model = state.get(todo.pop(), {}).get("state", {})
        if isinstance(model.get("value"), str):
            out.append(model["value"])
        todo += [c.removeprefix("IPY_MODEL_") for c in model.get("children", []) if isinstance(c, str)]
    return out


# --------------------------------------------------------------------------- per notebook


def check_quickstart(nb) -> list[str]:
    p = []
    if not re.search(r"ReadMarkdownLines\s+(0 → )?56\s+memo", text_of(nb, "qs-05")):
        p.append("qs-05: the prose says the reader shows 'memo' in the chain; it does not")
    if not has_panel(nb, "qs-07") or "5 sent" not in text_of(nb, "qs-07"):
        p.append("qs-07: the prose promises a live panel and five calls sent")
    poems = [ln.split(": ", 1) for ln in plain_of(nb, "qs-09").strip().splitlines()]
    if len(poems) != 5:
        p.append(f"qs-09: expected five poems, got {len(poems)}")
    for title, first in poems:
        if not content_words(title) & content_words(first):
            p.append(f"qs-09: the poem on {title!r} is not about its title: {first!r}")
    headings = re.findall(r"^## (.+)$", plain_of(nb, "qs-12"), re.M)
    if headings != [t for t, _ in poems]:
        p.append(f"qs-12: the file's headings {headings} are not the five titles {[t for t, _ in poems]}")
    if has_panel(nb, "qs-14"):
        p.append("qs-14: the prose says no panel appears for the rebuilt pipeline; one did")
    total = re.search(r"^total\s+(\d+)", plain_of(nb, "qs-14"), re.M)
    if total is None or int(total.group(1)) != 0:
        p.append("qs-14: the prose says the rebuilt pipeline sends nothing; cost() shows calls sent")
    served = re.findall(r"\b(ledger|sent|memo)\s*$", plain_of(nb, "qs-16"), re.M)
    if served != ["ledger"] * 5:
        p.append(f"qs-16: the prose says every answer comes from the ledger; explain() shows {served}")
    return p


def check_roleplay(nb) -> list[str]:
    p = []
    md = "\n".join(o.get("data", {}).get("text/markdown", "") for o in cell(nb, "rp-15").get("outputs", []))
    turns = re.findall(r"\*\*(\w+)\*\*: (.*?)(?=\n\n\*\*\w+\*\*: |\Z)", md, re.S)
    if [who for who, _ in turns].count("Student") != 3 or len(turns) != 8:
        p.append(f"rp-15: expected 8 turns with 3 by the Student, got {[w for w, _ in turns]}")
    for who, said in turns:
        body = said.replace(MARKER, "").strip()
        if who == "Student" and not body.endswith("?"):
            p.append(f"rp-15: the prose says Student turns are questions; this one is not: {body!r}")
        if who == "Teacher" and body.endswith("?"):
            p.append(f"rp-15: a Teacher turn asks instead of explaining: {body!r}")
    if turns and not turns[-1][1].startswith("To sum up"):
        p.append(f"rp-15: the prose says the Teacher sums up last; the last turn is {turns[-1][1][:60]!r}")
    return p


def check_segmentation(nb) -> list[str]:
    firsts = [re.sub(r"^\s*\d+\.\s", "", ln) for ln in plain_of(nb, "ts-16c").strip().splitlines()]
    titles = fable_titles()
    if len(titles) != 25:
        return [f"demo_data/aesop_fables.txt: expected 25 fable titles, found {len(titles)}"]
    if firsts[1:] != titles:
        return [f"ts-16c: the prose says sections start at the fable titles; they start at {firsts[1:]}"]
    return []


def check_prompt_management(nb) -> list[str]:
    p = []
    rows = re.findall(r"^(en|zh)  (.+?): (\d+) Chinese characters", plain_of(nb, "pm-10c"), re.M)
    if len(rows) != 5:
        p.append(f"pm-10c: expected five answers, got {len(rows)}")
    for lang, keyword, han in rows:
        if (lang == "zh") != (int(han) > 0):
            p.append(f"pm-10c: the {lang} answer about {keyword!r} is not in its prompt's language ({han} Han)")
    return p


def check_embeddings(nb) -> list[str]:
    pairs = re.findall(r"^(\d\.\d{3})  (.+?)  ↔  (.+)$", plain_of(nb, "em-10"), re.M)
    if len(pairs) != 10:
        return [f"em-10: expected ten pairs, got {len(pairs)}"]
    # "The top ones share a content word"; chance overlaps stay near 0.2 and below.
    return [
        f"em-10: the prose says top pairs share a content word; {a!r} and {b!r} ({s}) do not"
        for i, (s, a, b) in enumerate(pairs)
        if (i < 5 or float(s) >= 0.25) and not content_words(a) & content_words(b)
    ]


def check_advanced(nb) -> list[str]:
    p = []
    if "2 sent, 5 cached" not in text_of(nb, "adv-04"):
        p.append("adv-04: the prose says five answers come from the ledger and two are sent")
    if "7 sent, 0 cached" not in text_of(nb, "adv-07"):
        p.append("adv-07: the prose says all seven requests of the edited prompt are sent")
    if plain_of(nb, "adv-08").count("prompt text") != 7:
        p.append("adv-08: the prose says explain() names the prompt text as the change for all seven")
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in cell(nb, "adv-12").get("outputs", []))
    if "<img src=x" in html or "&lt;img src=x" not in html:
        p.append("adv-12: the payload is not shown escaped")
    if "<bfnb.RunHandle preview 5 of 56>" not in plain_of(nb, "adv-p1"):
        p.append("adv-p1: the prose says the preview covers 5 of the 56 entries")
    if not re.search(r"^5 rows: .*\nfile written: False$", plain_of(nb, "adv-p3").strip(), re.M):
        p.append("adv-p3: the prose says partial() gives the preview's five rows and nothing is written yet")
    if "{'calls_sent': 51, 'calls_cached': 5}" not in plain_of(nb, "adv-p5") or "file written: True" not in plain_of(nb, "adv-p5"):
        p.append("adv-p5: the prose says the rest sends only the other 51 calls and writes the file")
    panel = " ".join(widget_texts(nb, "adv-17"))
    if not re.search(r"idle · 56 of 56|done · 56 of 56", panel):
        p.append(f"adv-17: the saved panel does not show the finished run (56 of 56): {panel[:300]!r}")
    return p


CHECKS: dict[str, Callable] = {
    "1_quickstart.ipynb": check_quickstart,
    "2_roleplay.ipynb": check_roleplay,
    "3_text_segmentation.ipynb": check_segmentation,
    "4_prompt_management.ipynb": check_prompt_management,
    "5_embeddings.ipynb": check_embeddings,
    "6_prompt_iteration.ipynb": check_prompt_iteration,
    "8_advanced.ipynb": check_advanced,
}


def problems(name: str, nb) -> list[str]:
    """The claims of notebook ``name`` that its outputs in ``nb`` do not bear out."""
    check = CHECKS.get(name)
    return check(nb) if check is not None else []
