"""bf.compare over versions: side by side per idx, scored against truth or a judge, with cost."""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb import scoring
from bfnb.batch import from_columns
from bfnb.display import CompareView, ComparisonView
from bfnb.op import AskLLM, FromList

IDX = [f"r{i}" for i in range(10)]
GOLD = ["pos"] * 5 + ["neg"] * 5


def side(answers):
    return from_columns(IDX, {"review": [f"review {i}" for i in range(10)], "gold": GOLD, "label": answers})


def test_truth_scores_each_version_with_interval_confusion_and_a_paired_test():
    v1 = side(["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"])  # 6/10 right
    v2 = side(["Pos.", "pos", "pos", "pos", "pos", "neg", "neg", "neg", "neg", None])  # 9/10, one failed
    c = bf.compare(v1, v2, field="label", truth="gold", labels=["v1", "v2"])
    sf = c.scores_frame()
    assert sf.loc["v1", "accuracy"] == 0.6 and sf.loc["v2", "accuracy"] == 0.9
    assert sf.loc["v2", "ci_low"] == pytest.approx(scoring.wilson(9, 10)[0])
    assert c.confusions["v2"].loc["neg", "(none)"] == 1
    (p,) = c.paired
    assert (p.only_a, p.only_b) == (1, 4)
    assert p.p_value == pytest.approx(scoring.mcnemar_exact(1, 4))
    text = repr(c)
    assert "2 versions of 'label' · 10 entries · 6 differ · scored against 'gold'" in text
    assert "90% (9/10, 95% CI 60%–98%)" in text
    assert "v1 vs v2: 1 right only in v1, 4 only in v2; v2 better, could be chance" in text


def test_the_view_escapes_answers_and_marks_right_and_wrong():
    a = side(["<b>pos</b>"] + ["pos"] * 9)
    b = side(["pos"] * 10)
    html = ComparisonView(bf.compare(a, b, field="label", truth="gold"))._render_html()
    assert "<b>pos</b>" not in html and "&lt;b&gt;pos&lt;/b&gt;" in html
    assert 'class="bfnb-ok"' in html and 'class="bfnb-bad"' in html


def test_a_subfield_of_a_dict_answer_is_compared_and_scored():
    a = from_columns(
        ["x", "y"], {"gold": ["pos", "neg"], "s": [{"label": "pos", "why": "a"}, {"label": "pos", "why": "b"}]}
    )
    b = from_columns(["x", "y"], {"gold": ["pos", "neg"], "s": [{"label": "pos"}, None]})
    c = bf.compare(a, b, field="s.label", truth="gold")
    assert c.frame["A"].tolist() == ["pos", "pos"] and c.frame["B"].tolist() == ["pos", None]
    assert [s.correct for s in c.scores] == [1, 1]
    view = bf.compare(a, b, "s.label")  # two batches, no truth: the two-column view
    assert isinstance(view, CompareView) and view.frame["diff"].tolist() == ["", "≠"]


def test_two_graphs_without_truth_keep_the_two_column_view_and_a_missing_field_is_named():
    g1 = FromList([{"idx": "a", "t": "x"}])
    g2 = FromList([{"idx": "a", "t": "y"}])
    assert isinstance(bf.compare(g1, g2, "t"), CompareView)
    with pytest.raises(bf.MissingFieldError, match="no field 'nope'"):
        bf.compare(g1, g2, field="nope", truth="t")
    with pytest.raises(bf.MissingFieldError, match="no field 'text'"):
        bf.compare(g1, g2)  # the field defaults to AskLLM's output_key, "text"


def test_a_judge_scores_agreement_and_its_calls_count_in_each_versions_cost(server):
    with bf.ProjectFolder("judged", 0, 0, 1):
        judge = AskLLM(
            "Review: {review}\nLabel: {label}\nIs the label right? Answer yes or no.",
            model="gpt-4o-mini@openai",
            output_key="verdict",
        )
        a, b = side(["pos"] * 10), side(["neg"] * 10)
        c = bf.compare(a, b, field="label", judge=judge, labels=["a", "b"])
    assert c.score_name == "agreement" and [s.n for s in c.scores] == [10, 10]
    assert all(s.judge_cost_usd > 0 for s in c.sides)
    assert server.stats()["answered"] == 20
    sf = c.scores_frame()
    assert sf.loc["a", "judge_cost_usd"] == c.sides[0].judge_cost_usd
    assert "judge $" in repr(c)


def test_rows_the_latest_version_gets_wrong_come_first():
    a = from_columns(["x", "y", "z"], {"g": ["p", "n", "p"], "l": ["p", "n", "n"]})
    b = from_columns(["x", "y", "z"], {"g": ["p", "n", "p"], "l": ["p", "p", "n"]})
    lines = repr(bf.compare(a, b, field="l", truth="g", labels=["v1", "v2"])).splitlines()
    start = lines.index("rows v2 gets wrong first, then rows where versions differ")
    order = [ln.split()[0] for ln in lines[start + 3 :]]
    assert order == ["y", "z", "x"]  # y: v2 wrong and differs; z: v2 wrong; x: right
