"""Structured answers as columns; an answer failing its schema is a failed row with the error."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, field_validator

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, FromList

MODEL = "gpt-4o-mini@openai"
REVIEWS = [{"idx": "a", "review": "Great kettle, I love it"}, {"idx": "b", "review": "Broke after a day"}]


class Verdict(BaseModel):
    label: Literal["positive", "negative", "neutral"]
    reason: str


class Picky(BaseModel):
    label: str
    reason: str

    @field_validator("reason")
    @classmethod
    def long_enough(cls, v: str) -> str:
        if len(v) < 100_000:
            raise ValueError("reason is too short to believe")
        return v


def ask(**kw):
    with bf.ProjectFolder("structured"):
        return FromList(REVIEWS) | AskLLM("Classify the sentiment of: {review}", model=MODEL, **kw)


def test_a_list_output_key_gives_one_column_per_field(server):
    out = ask(response_format=Verdict, output_key=["label", "reason"]).to_pandas(meta=False)
    assert list(out.columns) == ["review", "label", "reason"]
    assert set(out["label"]) <= {"positive", "negative", "neutral"}
    assert all(isinstance(r, str) and r for r in out["reason"])


def test_a_str_output_key_keeps_one_dict_column_that_compare_reads_by_subfield(server):
    g = ask(response_format=Verdict, output_key="verdict")
    out = g.to_pandas(meta=False)
    assert list(out.columns) == ["review", "verdict"]
    assert set(out["verdict"].iloc[0]) == {"label", "reason"}
    cmp = bf.compare(g, ask(response_format=Verdict, output_key=["label", "reason"]), ("verdict.label", "label"))
    assert cmp.frame["diff"].tolist() == ["", ""]


def test_an_answer_failing_its_schema_is_a_failed_row_with_the_validation_error(server):
    g = ask(response_format=Picky, output_key=["label", "reason"])
    out = g.run()  # the run does not raise
    assert out["status"].tolist() == ["failed", "failed"]
    assert all("Picky" in e and "reason" in e and "too short to believe" in e for e in out["error"])
    assert out["label"].isna().all()
    sent = server.stats()["answered"]
    memo.clear()
    ask(response_format=Picky, output_key=["label", "reason"]).run()
    assert server.stats()["answered"] == sent  # the answers are in the ledger: nothing paid again


def test_output_keys_must_name_schema_fields_and_need_a_schema():
    with pytest.raises(
        ValueError, match=r"\['mood'\], which the response_format lacks; its fields: \['label', 'reason'\]"
    ):
        AskLLM("{review}", response_format=Verdict, output_key=["label", "mood"])
    with pytest.raises(TypeError, match="give response_format="):
        AskLLM("{review}", output_key=["label", "reason"])


def test_a_json_schema_dict_is_checked_too():
    from bfnb.op.answers import parse_answer

    schema = {
        "type": "object",
        "properties": {"label": {"type": "string", "enum": ["pos", "neg"]}},
        "required": ["label"],
    }
    assert parse_answer('{"label": "pos"}', schema) == ({"label": "pos"}, None)
    assert "one of ['pos', 'neg']" in parse_answer('{"label": "meh"}', schema)[1]
    assert "lacks ['label']" in parse_answer("{}", schema)[1]
    assert "not valid JSON" in parse_answer("label: pos", schema)[1]


def test_the_op_shows_who_answers_when_the_local_model_stands_in():
    op = AskLLM("{review}", model=MODEL)  # offline: no key, BFNB_OFFLINE=1
    assert op.display_name() == "AskLLM[gpt-4o-mini@openai → local model]"
