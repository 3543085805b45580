"""notebooks/6_prompt_iteration.ipynb's prose check (run on stored and fresh outputs by
test_notebooks.py through claims.CHECKS) catches an output that contradicts the prose."""

from __future__ import annotations

import copy

import nbformat
import pytest

from . import claims
from .prompt_iteration_claims import NAME
from .test_notebooks import REPO

pytestmark = pytest.mark.notebook


def _stored():
    return copy.deepcopy(nbformat.read(REPO / "notebooks" / NAME, as_version=4))


def _stream(nb, cell_id):
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    return next(o for o in cell.outputs if o.get("output_type") == "stream")


def test_the_check_is_registered_and_passes_on_the_committed_outputs():
    assert claims.CHECKS[NAME] is not None
    assert claims.problems(NAME, _stored()) == []


def test_the_check_catches_a_version_3_whose_lead_could_be_chance():
    nb = _stored()
    out = _stream(nb, "pi-19")
    out["text"] = out["text"].replace("classify v3 better, a real difference", "classify v3 better, could be chance")
    assert any("paired test" in p for p in claims.problems(NAME, nb))


def test_the_check_catches_a_compare_that_sent_calls():
    nb = _stored()
    out = _stream(nb, "pi-19")
    out["text"] = out["text"].replace("calls sent by compare: 0", "calls sent by compare: 56")
    assert any("sends no call" in p for p in claims.problems(NAME, nb))
