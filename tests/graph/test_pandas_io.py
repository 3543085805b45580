"""pandas out: ``to_pandas(meta=False)`` gives data only; a lone op runs as a one-node graph."""

from __future__ import annotations

import pytest

from bfnb.op import AskLLM, FromList, MapField

RECORDS = [{"idx": "r1", "review": "great value", "stars": 5}, {"idx": "r2", "review": "broke at once", "stars": 1}]


def test_to_pandas_meta_false_keeps_data_fields_only_in_input_order():
    g = FromList(RECORDS) | AskLLM("Sentiment of: {review}", output_key="answer")
    full = g.to_pandas()
    assert {"rev", "status", "error", "finish_reason"} <= set(full.columns)
    data = g.to_pandas(meta=False)
    assert list(data.columns) == ["review", "stars", "answer"]
    assert list(data.index) == ["r1", "r2"]
    assert data["answer"].notna().all()


def test_renamed_bookkeeping_keys_are_still_left_out():
    g = FromList(RECORDS) | AskLLM("{review}", status_key="st", error_key="err", finish_reason_key=None)
    assert list(g.to_pandas(meta=False).columns) == ["review", "stars", "text"]


def test_meta_fields_of_a_loop_body_are_known():
    from bfnb.op import Repeat

    body = AskLLM("{review}", output_key="answer")
    g = FromList(RECORDS) | Repeat(body, 1)
    assert {"status", "error", "finish_reason"} <= set(g.meta_fields())


def test_a_lone_op_runs_as_a_one_node_graph():
    src = FromList(RECORDS)
    assert list(src.run().index) == ["r1", "r2"]
    assert list(src.to_pandas(meta=False).columns) == ["review", "stars"]


def test_a_lone_op_run_refuses_options_meant_for_the_executor_call():
    op = MapField(str.upper, "review")
    with pytest.raises(TypeError, match="takes no keyword options"):
        op.run([], None, budget_usd=1)
