"""Every notebooks/*.ipynb is stored clean and runs offline in a real kernel.

A run happens in a throw-away copy of notebooks/ + demo_data/ (cwd = the copied notebooks/), with
``BFNB_OFFLINE=1``, a temporary ``BFNB_DATA_DIR``, the checkout on ``PYTHONPATH`` and no
``*_API_KEY`` or ``OPENAI_*`` variable. The checks live in nbchecks.py; the last tests prove on
fixture notebooks that they catch what they claim to.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from . import claims, nbchecks

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SUBS = nbchecks.load_sanitizers(HERE / "sanitize.cfg")

pytestmark = pytest.mark.notebook


def _notebooks() -> list:
    found = sorted((REPO / "notebooks").glob("*.ipynb"))
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks/*.ipynb exist yet"))]
    return [pytest.param(p, id=p.name) for p in found]


def kernel_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("OPENAI_"))}
    env.update(
        BFNB_OFFLINE="1",
        BFNB_DATA_DIR=str(tmp / "bfnb-data"),
        IPYTHONDIR=str(tmp / "ipython"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    )
    return env


def run_staged(notebook: Path, tmp: Path, name: str | None = None):
    """Execute ``notebook`` as notebooks/<name> inside a staged copy of the repo's data; return it run."""
    root = nbchecks.stage(REPO, tmp / "root")
    (root / "notebooks").mkdir(exist_ok=True)
    target = root / "notebooks" / (name or notebook.name)
    shutil.copy2(notebook, target)
    return nbchecks.execute(target, cwd=target.parent, env=kernel_env(tmp))


def _fmt(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n\n" + "\n\n".join(problems)


@pytest.mark.parametrize("notebook", _notebooks())
def test_stored_notebook_is_clean(notebook: Path):
    problems = nbchecks.stored_problems(notebook)
    assert not problems, _fmt(problems)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", _notebooks())
def test_notebook_runs_offline_in_a_kernel(notebook: Path, tmp_path: Path):
    import nbformat

    executed = run_staged(notebook, tmp_path)
    problems = nbchecks.execution_problems(executed, nbformat.read(notebook, as_version=4), SUBS)
    problems += claims.problems(notebook.name, executed)  # what the prose says, true when run again
    assert not problems, _fmt(problems)


@pytest.mark.parametrize("notebook", _notebooks())
def test_stored_outputs_bear_out_the_prose(notebook: Path):
    """What a reader sees on GitHub: the committed outputs show what the text around them claims."""
    import nbformat

    problems = claims.problems(notebook.name, nbformat.read(notebook, as_version=4))
    assert not problems, _fmt(problems)


def test_every_demo_notebook_has_claims_checked():
    """A new demo notebook gets its prose checked too (6 is checked by its own author's tests)."""
    names = {p.name for p in (REPO / "notebooks").glob("*.ipynb")} - {"7_scale_out.ipynb"}
    assert names <= set(claims.CHECKS), f"add a check to tests/notebooks/claims.py for {names - set(claims.CHECKS)}"


# --- the checks themselves, on fixture notebooks --------------------------------------------------


def test_checks_pass_a_clean_executed_notebook(tmp_path: Path):
    import nbformat

    clean = HERE / "fixtures" / "clean.ipynb"
    assert nbchecks.stored_problems(clean) == []
    executed = run_staged(clean, tmp_path)
    assert nbchecks.execution_problems(executed, nbformat.read(clean, as_version=4), SUBS) == []
    # The kernel ran in the staged notebooks/ with the offline environment.
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "cwd=notebooks demo_data=True offline=1 data_dir=bfnb-data key=None" in printed


def test_checks_report_every_fault_of_a_dirty_stored_notebook():
    problems = "\n".join(nbchecks.stored_problems(HERE / "fixtures" / "dirty.ipynb"))
    for expected in (
        "execution counts [1, 3] are not 1..2",
        "error output ZeroDivisionError",
        "stderr shows 'Traceback'",
        "absolute path",
        "/tmp/",
        "widget view 0123abcd has no saved widget state",
        "HBox(children=",
        "secret-looking string in the file at offset",
    ):
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"


def test_checks_report_run_faults_and_changed_checked_output(tmp_path: Path):
    import nbformat

    failing = HERE / "fixtures" / "failing.ipynb"
    executed = run_staged(failing, tmp_path)
    problems = "\n".join(nbchecks.execution_problems(executed, nbformat.read(failing, as_version=4), SUBS))
    assert "error output NameError" in problems
    assert "stderr shows 'was never awaited'" in problems
    assert "(# NBVAL_CHECK_OUTPUT): output changed" in problems
    assert "answer = 41" in problems and "answer = 42" in problems
    # Sanitized text (a duration) in a checked cell is not a change.
    assert "cell 1 " not in problems


def test_sanitizers_remove_run_to_run_noise():
    noisy = "took 0.42 s for $0.0012 at 0x7f3a2b1c9d90 in run 3f2a9c1e0b7d (12.5 it/s) 2024-05-01T10:22:33Z"
    assert (
        nbchecks.sanitize(noisy, SUBS) == "took DURATION for $COST at 0xADDRESS in run HEXID (RATE) TIMESTAMP"
    )
    assert nbchecks.sanitize("5 rows, 120 tokens, idx a3", SUBS) == "5 rows, 120 tokens, idx a3"


def test_claim_checks_catch_outputs_that_contradict_the_prose():
    import nbformat

    road = nbformat.read(REPO / "notebooks" / "2_roleplay.ipynb", as_version=4)
    out = claims.cell(road, "rp-15").outputs[0]
    out.data["text/markdown"] = out.data["text/markdown"].replace("?", ".", 1)
    assert any("Student turns are questions" in p for p in claims.problems("2_roleplay.ipynb", road))

    seg = nbformat.read(REPO / "notebooks" / "3_text_segmentation.ipynb", as_version=4)
    printed = claims.cell(seg, "ts-16c").outputs[0]
    printed.text = printed.text.replace("The Bat and the Weasels", "A BAT who fell upon the ground")
    assert any("start at the fable titles" in p for p in claims.problems("3_text_segmentation.ipynb", seg))

    adv = nbformat.read(REPO / "notebooks" / "8_advanced.ipynb", as_version=4)
    adv.metadata["widgets"] = {}
    assert any("finished run" in p for p in claims.problems("8_advanced.ipynb", adv))
