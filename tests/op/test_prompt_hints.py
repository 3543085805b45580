"""Prompt traps get hints: literal braces point to {{ }}, a misspelt field names the closest ones."""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.op import AskLLM, FromList
from bfnb.op.prompts import template_fields


@pytest.mark.parametrize(
    "template",
    ['Answer as {"label": "positive"} for {review}', "Answer as { 'label': 1 }", "a lone } brace {review}"],
)
def test_literal_braces_are_refused_with_the_double_brace_hint(template):
    with pytest.raises(ValueError) as err:
        AskLLM(template)
    assert "{{ and }}" in str(err.value)


def test_doubled_braces_and_spaced_field_names_still_work():
    assert template_fields('Answer as {{"label": ...}} for {review}') == ["review"]
    assert template_fields("{review text}") == ["review text"]


def test_a_misspelt_field_names_the_closest_and_lists_the_available_ones():
    g = FromList([{"idx": "a", "review": "fine", "stars": 4}]) | AskLLM("Classify: {reveiw}")
    with pytest.raises(bf.MissingFieldError) as err:
        g.run()
    msg = str(err.value)
    assert "did you mean 'review'?" in msg
    assert "fields: ['review', 'stars']" in msg
    assert "idx 'a'" in msg and "reveiw" in msg


def test_a_field_with_no_close_name_lists_the_available_ones_without_a_guess():
    g = FromList([{"idx": "a", "review": "fine"}]) | AskLLM("Classify: {zzz}")
    with pytest.raises(bf.MissingFieldError) as err:
        g.run()
    assert "did you mean" not in str(err.value)
    assert "fields: ['review']" in str(err.value)
