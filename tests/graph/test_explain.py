"""Looking never pays: repr, displays, len, g.cost() and g.explain() send nothing (the server counts)."""

from __future__ import annotations

import bfnb as bf
from bfnb._ipython import graph_mimebundle
from bfnb.op import AskLLM, FromList


def _graph(n=50, prompt="Write a poem about {w}."):
    with bf.ProjectFolder("looking", 1, 0, 0):
        return FromList([{"w": f"word {i}"} for i in range(n)]) | AskLLM(prompt, model="gpt-4o-mini@openai")


def test_looking_at_a_never_run_graph_sends_nothing(server):
    g = _graph()
    repr(g)
    bundle = graph_mimebundle(g)  # what IPython shows for a graph (registered by bfnb._ipython)
    assert "not run yet" in bundle["text/plain"]
    assert len(g) == 2
    why = g.explain()
    assert set(why["served"]) == {"not run yet"}
    est = g.cost()
    assert server.stats()["requests"] == 0
    total = est.loc["total"]
    assert total["calls_needed"] == 50 and total["in_ledger"] == 0 and total["to_send"] == 50
    assert 0 < total["cost_usd_max"] < 0.05 and set(est["run"]) == {"not run yet"}
    assert g.last_run is None  # the estimate is not a run


def test_the_estimate_counts_what_the_ledger_already_has(server):
    _graph(20).run()
    assert server.stats()["answered"] == 20
    est = _graph(50).cost().loc["total"]
    assert (est["calls_needed"], est["in_ledger"], est["to_send"]) == (50, 20, 30)
    assert server.stats()["requests"] == 20


def test_after_a_run_looking_reads_what_the_run_did(server):
    g = _graph(10)
    g.run()
    assert server.stats()["answered"] == 10
    assert g.cost().loc["total", "calls_sent"] == 10
    assert set(g.explain()["served"]) == {"sent"}
    assert "not run yet" not in graph_mimebundle(g)["text/plain"]
    assert server.stats()["requests"] == 10
