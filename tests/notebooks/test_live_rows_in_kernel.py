"""In a real kernel: a preview shows its rows as a table headed "preview N of M" with a button to
run the rest, and the table fills in to the whole result after ``resume()`` (saved widget state)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from . import claims
from .test_notebooks import run_staged

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

CELLS = [
    "import bfnb as bf\nfrom bfnb.op import *",
    "with bf.ProjectFolder('live', 1, 0, 0):\n"
    "    g = FromList([{'w': f'word{i}'} for i in range(20)]) | AskLLM('Write about {w}.', model=bf.default_model())\n"
    "handle = g.run(preview=5)\nhandle",
    "handle.resume().wait()\nprint(len(handle.result()), 'rows;', handle)",
]


def widget_values(nb, cell_id: str) -> list[str]:
    """Every string value and description of the widgets a cell shows, from the saved state."""
    state = nb.metadata.get("widgets", {}).get(claims.WIDGET_STATE, {}).get("state", {})
    views = [o["data"][claims.WIDGET_VIEW]["model_id"] for o in claims.cell(nb, cell_id).outputs
             if claims.WIDGET_VIEW in o.get("data", {})]  # fmt: skip
    out, todo = [], list(views)
    while todo:
        model = state.get(todo.pop(), {}).get("state", {})
        out += [str(model[k]) for k in ("value", "description") if isinstance(model.get(k), str)]
        todo += [c.removeprefix("IPY_MODEL_") for c in model.get("children", []) if isinstance(c, str)]
    return out


def execute(cells: list[str], tmp: Path):
    nb = new_notebook(cells=[new_code_cell(src, id=f"live-{i}") for i, src in enumerate(cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp / "live.ipynb"
    nbformat.write(nb, path)
    executed = run_staged(path, tmp / "run")
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    return executed


def test_a_preview_shows_its_rows_and_a_button_for_the_rest(tmp_path: Path):
    executed = execute(CELLS[:2], tmp_path)  # the notebook as saved right after the preview
    assert "<bfnb.RunHandle preview 5 of 20>" in claims.plain_of(executed, "live-1")
    shown = " ".join(widget_values(executed, "live-1"))
    assert "preview 5 of 20" in shown, shown[-3000:]
    assert "Run the other 15" in shown
    assert shown.count("word") >= 5  # the five rows are in the table


def test_after_resume_the_same_table_holds_the_whole_result(tmp_path: Path):
    executed = execute(CELLS, tmp_path)
    assert "20 rows; <bfnb.RunHandle done>" in claims.plain_of(executed, "live-2")
    shown = " ".join(widget_values(executed, "live-1"))  # the preview cell's view, updated live
    assert "20 rows" in shown and "preview 5 of 20" not in shown, shown[-3000:]
