"""Checks for the shipped notebooks: how they are stored, and how they run in a real kernel.

Notebooks are documentation that users run, so they are committed executed and must read well on
GitHub: every cell run once, top to bottom, no errors, no machine paths or secrets, widget state
saved. When run again (nbclient, a real ipykernel, offline) they must not raise, print a traceback or
a widget's text fallback; cells marked ``# NBVAL_CHECK_OUTPUT`` (or tagged ``nbval-check-output``)
must reproduce their stored output after the sanitizers in sanitize.cfg, nbval's ``--nbval-lax``
rule, implemented here so that one kernel run yields every finding at once. Each check returns a
list of problems (empty = fine) so that a test can show them all.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ABS_PATH = re.compile(r"(?<![\w.~-])(?:/(?:work|tmp|root|home|Users)/|[A-Za-z]:\\Users\\)")
SECRET = re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}|(?i:\bbearer\s+[A-Za-z0-9._\-]{20,})")
BAD_STDERR = ("Traceback", "was never awaited", "Exception ignored in")
WIDGET_FALLBACKS = ("Error displaying widget", "HBox(children=", "VBox(children=")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CHECK_TAG, CHECK_COMMENT = "nbval-check-output", "NBVAL_CHECK_OUTPUT"
ALLOW_ERROR_TAGS = {"raises-exception", "nbval-raises-exception"}


def load_sanitizers(cfg: Path) -> list[tuple[re.Pattern, str]]:
    """(regex, replacement) pairs from an nbval sanitize file, in file order."""
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", cfg.read_text(), flags=re.MULTILINE)
    return [(re.compile(rx), rep) for rx, rep in pairs]


def sanitize(text: str, subs: list[tuple[re.Pattern, str]]) -> str:
    for rx, rep in subs:
        text = rx.sub(rep, text)
    return text


def output_text(out: dict) -> str:
    """All human-readable text of one output (stream, text/plain, text/html, error)."""
    kind = out.get("output_type")
    if kind == "stream":
        return out.get("text", "")
    if kind == "error":
        return ANSI.sub(
            "", "\n".join([f"{out.get('ename')}: {out.get('evalue')}", *out.get("traceback", [])])
        )
    data = out.get("data", {})
    # A widget view's text/plain is its repr, which front ends show only when the view cannot render.
    keys = ("text/html",) if WIDGET_VIEW in data else ("text/plain", "text/html")
    return "\n".join(str(data[k]) for k in keys if k in data)


def code_cells(nb) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def is_checked(cell) -> bool:
    comments = {
        ln.strip().lstrip("#").strip() for ln in cell.source.splitlines() if ln.strip().startswith("#")
    }
    return CHECK_TAG in _tags(cell) or CHECK_COMMENT in comments


def _output_problems(where: str, out: dict, allow_error: bool) -> list[str]:
    text = output_text(out)
    problems = []
    if out.get("output_type") == "error" and not allow_error:
        problems.append(f"{where}: error output {out.get('ename')}: {out.get('evalue')}\n{text[-1500:]}")
    if out.get("output_type") == "stream" and out.get("name") == "stderr":
        problems += [f"{where}: stderr shows {s!r}:\n{text[-800:]}" for s in BAD_STDERR if s in text]
    problems += [
        f"{where}: widget text fallback {f!r}: {text[:200]!r}" for f in WIDGET_FALLBACKS if f in text
    ]
    return problems


def stored_problems(path: Path) -> list[str]:
    """What is wrong with a notebook as committed (no kernel needed)."""
    raw = path.read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    problems = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        problems.append(f"invalid notebook: {exc.message}")
    cells = code_cells(nb)
    counts = [c.get("execution_count") for _, c in cells]
    if any(n is None for n in counts):
        unrun = [i for (i, c) in cells if c.get("execution_count") is None]
        problems.append(f"code cells {unrun} have no execution_count: commit the notebook executed")
    elif counts != list(range(1, len(cells) + 1)):
        problems.append(f"execution counts {counts} are not 1..{len(cells)}: restart and run all, then save")
    if cells and not any(c.get("outputs") for _, c in cells):
        problems.append("no code cell has stored outputs: commit the notebook executed")
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for i, cell in cells:
        where = f"cell {i}"
        for out in cell.get("outputs", []):
            problems += _output_problems(where, out, allow_error=bool(_tags(cell) & ALLOW_ERROR_TAGS))
            text = output_text(out)
            if m := ABS_PATH.search(text):
                snippet = text[max(0, m.start() - 40) : m.end() + 60]
                problems.append(f"{where}: output shows an absolute path: ...{snippet!r}...")
            if out.get("output_type") == "execute_result" and out.get("execution_count") != cell.get(
                "execution_count"
            ):
                problems.append(
                    f"{where}: stale result (execution_count {out.get('execution_count')} "
                    f"in a cell run as {cell.get('execution_count')})"
                )
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view and view.get("model_id") not in state:
                problems.append(
                    f"{where}: widget view {view.get('model_id')} has no saved widget state "
                    "(execute with nbclient store_widget_state=True, or save widget state)"
                )
    problems += [
        f"secret-looking string in the file at offset {m.start()}: {m.group(0)[:4]}..."
        for m in SECRET.finditer(raw)
    ]
    return problems


def stage(repo: Path, dest: Path) -> Path:
    """A throw-away copy of notebooks/ and demo_data/ (same layout), so runs never write into the repo."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "data", "__pycache__")
    for name in ("notebooks", "demo_data"):
        if (repo / name).is_dir():
            shutil.copytree(repo / name, dest / name, ignore=ignore)
    return dest


def execute(path: Path, cwd: Path, env: dict[str, str], timeout: int = 300):
    """Run a notebook top to bottom in a fresh ipykernel of this interpreter; return the executed copy."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # No kernel dirs: "python3" is this interpreter, whatever kernelspecs the user has installed.
    km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        startup_timeout=120,
        allow_errors=True,
        record_timing=False,
        store_widget_state=True,  # the saved panels, as a committed notebook keeps them
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=env, cleanup_kc=True)  # we made the manager, so nbclient would keep the kernel
    return nb


def execution_problems(executed, stored, subs: list[tuple[re.Pattern, str]]) -> list[str]:
    """What went wrong in a fresh run, and where checked cells differ from their stored outputs."""
    problems = []
    for i, cell in code_cells(executed):
        allow = bool(_tags(cell) & ALLOW_ERROR_TAGS)
        for out in cell.get("outputs", []):
            problems += _output_problems(f"cell {i} (run)", out, allow_error=allow)
        if is_checked(cell):
            got, want = _comparable(cell, subs), _comparable(stored.cells[i], subs)
            if got != want:
                problems.append(
                    f"cell {i} (# {CHECK_COMMENT}): output changed\n--- stored\n{want}\n--- now\n{got}"
                )
    return problems


def _comparable(cell, subs) -> list[tuple[str, str]]:
    """A cell's outputs as nbval compares them: streams merged, widget views and images left out."""
    items: list[tuple[str, str]] = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            key = f"stream:{out.get('name')}"
            if items and items[-1][0] == key:
                items[-1] = (key, items[-1][1] + out.get("text", ""))
            else:
                items.append((key, out.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            items += [(k, str(data[k])) for k in ("text/plain", "text/html") if k in data]
        elif kind == "error":
            items.append(("error", f"{out.get('ename')}: {out.get('evalue')}"))
    return [(k, sanitize(v, subs)) for k, v in items]
