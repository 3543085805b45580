"""notebooks/6_prompt_iteration.ipynb: its prose holds on the committed outputs and on a fresh run."""

from __future__ import annotations

import copy

import nbformat
import pytest

from .prompt_iteration_claims import NAME, check_prompt_iteration
from .test_notebooks import REPO, run_staged

NB = REPO / "notebooks" / NAME

pytestmark = pytest.mark.notebook


def test_the_committed_outputs_bear_out_the_prose():
    problems = check_prompt_iteration(nbformat.read(NB, as_version=4))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_a_fresh_offline_run_bears_out_the_prose(tmp_path):
    problems = check_prompt_iteration(run_staged(NB, tmp_path))
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_version_3_that_is_not_better():
    nb = copy.deepcopy(nbformat.read(NB, as_version=4))
    cell = next(c for c in nb.cells if c.get("id") == "pi-19")
    out = next(o for o in cell.outputs if o.get("output_type") == "stream")
    out["text"] = out["text"].replace("classify v3 better, a real difference", "classify v3 better, could be chance")
    assert any("paired test" in p for p in check_prompt_iteration(nb))
