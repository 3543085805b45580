"""CompareView: two versions of a field, side by side per idx."""

from __future__ import annotations

import numpy as np
import pytest

from bfnb.batch import from_columns
from bfnb.display import CompareView, compare_frame
from bfnb.errors import MissingFieldError


def pair():
    a = from_columns(["x", "y", "z"], {"story": ["hello", "same", "<b>only a</b>"]})
    b = from_columns(["y", "x", "w"], {"story2": ["same", "hello world", "new"]})
    return a, b


def test_outer_join_markers_and_lengths():
    a, b = pair()
    f = compare_frame(a, b, ("story", "story2"), labels=("v1", "v2"))
    assert f.index.tolist() == ["x", "y", "z", "w"]
    assert f["diff"].tolist() == ["≠", "", "only v1", "only v2"]
    assert f["len_a"].tolist()[:3] == [5, 4, 13] and np.isnan(f["len_a"].iloc[3])
    assert f["b"].tolist() == ["hello world", "same", None, "new"]


def test_view_text_totals_and_costs():
    a, b = pair()
    view = CompareView(a, b, ("story", "story2"), labels=("v1", "v2"), cost_a=0.0123, cost_b=None)
    lines = view._render_text().splitlines()
    assert lines[0] == "4 entries · 1 differ · 1 only in v1 · 1 only in v2"
    assert lines[1] == "v1 (story): 22 chars, cost $0.0123"
    assert lines[2] == "v2 (story2): 18 chars, cost unknown"
    row_x = next(line for line in lines if line.startswith("x "))
    assert row_x.split() == ["x", "hello", "5", "hello", "world", "11", "≠"]
    row_w = next(line for line in lines if line.startswith("w "))
    assert row_w.split() == ["w", "—", "—", "new", "3", "only", "v2"]


def test_view_html_escapes_and_marks():
    a, b = pair()
    html = CompareView(a, b, ("story", "story2"))._render_html()
    assert "<b>only" not in html and "&lt;b&gt;only a&lt;/b&gt;" in html
    assert '<td class="bfnb-diff">≠</td>' in html
    assert '<td class="bfnb-diff">only A</td>' in html
    assert "cost" not in html  # no costs given, none shown


def test_equal_embeddings_and_missing_field():
    emb = np.ones(4)
    a = from_columns(["x", "y"], {"e": [emb, emb]})
    b = from_columns(["x", "y"], {"e": [emb.copy(), emb * 2]})
    assert compare_frame(a, b, "e")["diff"].tolist() == ["", "≠"]
    with pytest.raises(MissingFieldError, match="B has no field 'nope'"):
        CompareView(a, b.rename(columns={"e": "f"}), ("e", "nope"))


def test_max_rows():
    idx = [f"e{i}" for i in range(50)]
    a = from_columns(idx, {"t": ["a"] * 50})
    b = from_columns(idx, {"t": ["a"] * 49 + ["b"]})
    text = CompareView(a, b, "t", max_rows=10)._render_text()
    assert text.splitlines()[0] == "showing 10 of 50 · 50 entries · 1 differ"
