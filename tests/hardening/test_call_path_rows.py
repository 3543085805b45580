"""Two rows of issue 11 that belong to the call-path work (bfnb/calls.py, BrokerOp), written as tests of
what a user must see (the ledger row is tested in test_ledger_corruption.py)."""

from __future__ import annotations

import math

import pytest

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, EmbedText, FromList
from bfnb.testing import local_server


@pytest.fixture
def server(monkeypatch):
    with local_server() as srv:
        monkeypatch.delenv("BFNB_OFFLINE", raising=False)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        yield srv


@pytest.mark.parametrize("hole", [None, math.nan, "absent"])
@pytest.mark.parametrize("make", [
    lambda: AskLLM("Poem about {keyword}", model="gpt-4o-mini@openai"),
    lambda: EmbedText("keyword", model="text-embedding-3-small@openai"),
])  # fmt: skip
def test_a_template_field_missing_on_some_rows_is_refused_before_anything_is_sent(server, hole, make):
    rows = [{"keyword": "Icarus", "n": 1}, {"keyword": hole, "n": 2} if hole != "absent" else {"n": 2}]
    with bf.ProjectFolder("holes", 1, 0, 0):
        g = bf.Graph() | FromList(rows) | make()
    with pytest.raises(bf.MissingFieldError) as e:
        g.run()
    assert e.value.field == "keyword" and e.value.idx is not None
    assert server.stats()["answered"] == 0  # nothing paid for "None" or "nan"
    rows[1] = {"keyword": "Daedalus", "n": 2}
    memo.clear()
    with bf.ProjectFolder("holes", 1, 0, 0):
        fixed = (bf.Graph() | FromList(rows) | make()).run()
    assert set(fixed["status"]) == {"done"}


@pytest.mark.parametrize("name", ["status", "error", "finish_reason"])
def test_askllm_over_a_user_field_named_like_its_bookkeeping_never_overwrites_it(server, name):
    rows = [{"keyword": "Icarus", name: "mine"}]
    with bf.ProjectFolder("clash", 1, 0, 0):
        g = bf.Graph() | FromList(rows) | AskLLM("Poem about {keyword}", model="gpt-4o-mini@openai")
    try:
        out = g.run()
    except bf.BfnbError as e:  # refused, naming the clash
        assert name in str(e) and server.stats()["answered"] == 0
    else:  # or the bookkeeping lives under names that cannot clash
        assert out[name].tolist() == ["mine"]


def test_bookkeeping_of_an_earlier_broker_op_under_another_status_key_is_not_a_clash(server):
    """The seed names a first op's status ``llm_status``; its error field is bookkeeping, not user data."""
    with bf.ProjectFolder("chain", 1, 0, 0):
        g = bf.Graph() | FromList([{"keyword": "Icarus"}])
        g |= AskLLM("Poem about {keyword}", model="gpt-4o-mini@openai", status_key="llm_status", output_key="poem")
        g |= AskLLM("Title for {poem}", model="gpt-4o-mini@openai", output_key="title")
        out = g.run()
    assert out["status"].tolist() == ["done"] and out["title"].iloc[0]
