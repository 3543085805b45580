"""VersionsView and ComparisonView: deterministic text, escaped HTML."""

from __future__ import annotations

import re

import bfnb as bf
from bfnb.batch import from_columns
from bfnb.display import ComparisonView, VersionsView
from bfnb.graph import Graph
from bfnb.op import AskLLM, FromList

EVIL = "<script>alert(1)</script> {review}"


def test_versions_view_escapes_prompts_and_leaves_out_times():
    with bf.ProjectFolder("views") as p:
        (FromList([{"idx": "a", "review": "ok"}]) | AskLLM(EVIL, output_key="label").tag("s")).run()
        (FromList([{"idx": "a", "review": "ok"}]) | AskLLM("Plain {review}", output_key="label").tag("s")).run()
    vl = bf.versions(project=p)
    html = VersionsView(vl)._render_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    text = repr(vl)
    assert text.splitlines()[0] == "2 versions of 's' in project 'views' · read from disk, nothing sent"
    assert "first" in text and "prompt" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}", text)  # no timestamps: stored outputs stay comparable


def test_comparison_view_escapes_labels_truth_and_answers():
    a = from_columns(["x"], {"gold": ["<b>t</b>"], "label": ["<i>a</i>"]})
    b = from_columns(["x"], {"gold": ["<b>t</b>"], "label": ["ok"]})
    html = ComparisonView(bf.compare(a, b, field="label", truth="gold", labels=["<u>v1</u>", "v2"]))._render_html()
    for raw in ("<b>t</b>", "<i>a</i>", "<u>v1</u>"):
        assert raw not in html


def test_an_untagged_broker_op_added_by_a_notebook_cell_keeps_versions_per_cell():
    with bf.ProjectFolder("views", 0, 0, 2) as p:
        g = Graph.of(FromList([{"idx": "a", "review": "ok"}])) | Graph.of(AskLLM("One {review}"), cell="c-42")
        g.run()
    (v,) = bf.versions(project=p)
    assert v.slot == "cell c-42" and v.cell == "c-42"


def test_a_structured_answer_column_shows_as_field_dot_key_columns():
    from bfnb.display import BatchTable

    df = from_columns(["a", "b"], {"verdict": [{"label": "pos", "reason": "<b>good</b>"}, None], "n": [1, 2]})
    text = BatchTable(df)._render_text()
    header = text.splitlines()[1].split()
    assert header[:3] == ["idx", "rev", "verdict.label"] and "verdict.reason" in header
    html = BatchTable(df)._render_html()
    assert "verdict.reason" in html and "<b>good</b>" not in html and "&lt;b&gt;good&lt;/b&gt;" in html
    nested = from_columns(["a"], {"response": [{"choices": [{"x": 1}], "id": "c1"}]})  # not flat: kept whole
    assert "response.id" not in BatchTable(nested)._render_text()
