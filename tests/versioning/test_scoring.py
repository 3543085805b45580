"""The statistics behind a scored comparison, checked against values worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bfnb import scoring as S


def test_wilson_interval_matches_the_textbook_values():
    lo, hi = S.wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert S.wilson(0, 10)[0] == 0.0 and S.wilson(10, 10)[1] == 1.0  # stays inside [0, 1]
    assert all(math.isnan(x) for x in S.wilson(0, 0))


def test_mcnemar_exact_is_a_two_sided_binomial_tail_on_discordant_rows():
    assert S.mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert S.mcnemar_exact(1, 5) == pytest.approx(2 * 7 / 64)
    assert S.mcnemar_exact(3, 3) == 1.0 and S.mcnemar_exact(0, 0) == 1.0


def test_answers_match_truth_after_case_space_and_punctuation_are_ignored():
    assert S.normalize_label(" Positive.") == "positive"
    answers = pd.Series(["Positive.", "negative", None, "neutral"], index=list("abcd"))
    truth = pd.Series(["positive", "positive", "negative", None], index=list("abcd"))
    scored, right = S.correct_mask(answers, truth)
    assert scored.tolist() == [True, True, True, False]
    assert right.tolist() == [True, False, False, False]
    sc = S.score("accuracy", answers, right, scored)
    assert (sc.correct, sc.n, sc.failed) == (1, 3, 1)
    assert sc.text().startswith("33% (1/3, 95% CI")


def test_confusion_counts_truth_by_answer_and_shows_missing_answers():
    answers = pd.Series(["pos", "neg", None, "pos"], index=list("abcd"))
    truth = pd.Series(["pos", "pos", "neg", "neg"], index=list("abcd"))
    tab = S.confusion(answers, truth)
    assert tab.loc["pos", "pos"] == 1 and tab.loc["pos", "neg"] == 1
    assert tab.loc["neg", "(none)"] == 1 and tab.loc["neg", "pos"] == 1
    assert list(tab.columns)[-1] == "(none)"


def test_paired_counts_and_wording():
    idx = list("abcdefgh")
    a = pd.Series([True, True, False, False, False, False, False, False], index=idx)
    b = pd.Series([True, True, True, True, True, True, True, False], index=idx)
    p = S.paired("v1", "v2", a, b, pd.Series(True, index=idx))
    assert (p.only_a, p.only_b, p.n) == (0, 5, 8)
    assert p.p_value == pytest.approx(2 / 32)
    assert "v2 better, could be chance" in p.text()


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Yes, it is right.", True),
        ("no", False),
        (True, True),
        (0.8, True),
        (0, False),
        (None, None),
        ({"verdict": "correct"}, True),
        ("Correct (local model)", True),
    ],
)
def test_a_judge_answer_becomes_a_verdict(value, expected):
    assert S.verdict(value) is expected
