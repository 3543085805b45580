"""execute() keeps the seed's meaning: it sends paid calls only when asked; run() is bfnb's."""

from __future__ import annotations

import re

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, FromList, OutputEntries

MODEL = "gpt-4o-mini@openai"  # priced in the table, answered by the local server


def graph(words):
    with bf.ProjectFolder("exec", 1, 0, 0):
        return (
            FromList([{"keyword": w} for w in words])
            | AskLLM("Poem about {keyword}.", model=MODEL, max_completion_tokens=100)
            | OutputEntries()
        )


def test_execute_without_dispatch_sends_nothing_and_says_what_waits(server, capsys):
    from bfnb.brokers.pricing import format_cost

    words = ["sea", "sky", "sea2"]
    g = graph(words)
    estimate = g.cost().loc["total", "cost_usd_max"]  # the dry run of a graph never run
    out = g.execute()
    assert server.stats()["answered"] == 0
    assert [e.data["status"] for e in out] == ["pending"] * 3  # the rows come back, marked
    line = capsys.readouterr().out.strip()
    m = re.fullmatch(r"3 calls pending \(≤ \$([0-9.]+)\)", line)
    assert m, line
    # the bound is the worst case: at least 100 output tokens per call at gpt-4o-mini's $0.60 / 1M
    assert float(m.group(1)) >= 3 * 100 * 0.60 / 1e6
    assert line.endswith(f"(≤ {format_cost(estimate)})")  # the same bound as g.cost()'s dry run
    done = graph(words).execute(dispatch_brokers=True)
    assert server.stats()["answered"] == 3
    assert [e.data["status"] for e in done] == ["done"] * 3
    assert capsys.readouterr().out == ""  # nothing pending: nothing printed


def test_run_dispatches_by_default(server, capsys):
    memo.clear()
    out = graph(["a", "b"]).run()
    assert server.stats()["answered"] == 2 and (out["status"] == "done").all()
    assert "pending" not in capsys.readouterr().out


def test_the_seeds_other_execute_keywords(capsys):
    import pytest

    from bfnb.op import MapField, ToList, While

    g = FromList([{"n": 0}]) | While(lambda d: d["n"] < 5, MapField(lambda n: n + 1, "n")) | ToList("n")
    assert g.execute(max_iterations=10, compact_after_finished=False) == [5]
    memo.clear()  # a fresh kernel: the loop runs again
    with pytest.raises(bf.LoopLimitError, match="max_iterations=3"):  # the seed stopped silently here
        g.execute(max_iterations=3)
    with pytest.raises(TypeError, match="barriers are real"):
        g.execute(max_barrier_level=2)
    capsys.readouterr()
    assert g.execute(verbose=1) == [5]
    out = capsys.readouterr().out
    assert "FromList: 0 -> 1 rows" in out and "ToList: 1 -> 1 rows" in out
