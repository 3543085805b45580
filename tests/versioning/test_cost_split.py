"""g.cost() separates this run's spend from what its results cost when first paid."""

from __future__ import annotations

import shutil

import pytest

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, FromList

RECS = [{"idx": f"r{i}", "k": f"word {i}"} for i in range(4)]


def build(tag="poems"):
    return FromList(RECS) | AskLLM("Poem about {k}", model="gpt-4o-mini@openai").tag(tag)


def test_rerun_from_memo_or_ledger_spends_nothing_but_shows_the_first_price(server):
    with bf.ProjectFolder("split") as project:
        g = build()
        g.run()
        first = g.cost().loc["total"]
        assert first["cost_usd"] > 0 and first["first_paid_usd"] == pytest.approx(first["cost_usd"])
        g2 = build()
        g2.run()  # memo
        c = g2.cost()
        assert c.loc["poems", "source"] == "memo"
        assert c.loc["total", "cost_usd"] == 0 and c.loc["total", "first_paid_usd"] == pytest.approx(first["cost_usd"])
        memo.clear()
        shutil.rmtree(project.checkpoint_dir)
        g3 = build()
        g3.run()  # every answer from the ledger
        c = g3.cost()
        assert c.loc["poems", "source"] == "ledger"
        assert c.loc["total", "cost_usd"] == 0 and c.loc["total", "first_paid_usd"] == pytest.approx(first["cost_usd"])
    assert server.stats()["answered"] == 4
