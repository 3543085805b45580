"""The op chain shows every op of the graph with its rows and where its result came from."""

from __future__ import annotations

import shutil

import bfnb as bf
from bfnb._ipython import _view
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, FromList, MapField, TakeFirstN

RECS = [{"idx": f"r{i}", "k": f"word {i}"} for i in range(20)]


def chain(g):
    return {n.op_label: (n.rows_in, n.rows_out, n.source) for n in g.last_run.nodes}


def build():
    return FromList(RECS) | MapField(str.upper, "k") | AskLLM("Poem about {k}").tag("poems")


def test_first_run_then_a_rerun_show_every_op_with_its_source():
    with bf.ProjectFolder("chain") as project:
        g = build()
        g.run()
        first = chain(g)
        assert first["FromList"] == (0, 20, "run")
        assert first["MapField"] == (20, 20, "run")
        assert first["poems"] == (20, 20, "run")
        g2 = build()  # a re-run of the cell: same fingerprints
        g2.run()
        again = chain(g2)
        assert len(again) == 3  # every op, not only the reused tail
        assert again["poems"][1:] == (20, "memo")
        assert again["FromList"] == (0, 20, "not needed")  # the memo still knows its rows
        assert again["MapField"][2] == "not needed"
        text = _view(g2)._render_text()
        assert text.startswith("3 ops")
        memo.clear()
        shutil.rmtree(project.checkpoint_dir)
        g3 = build()
        g3.run()
        assert chain(g3)["poems"] == (20, 20, "ledger")  # every answer from the ledger, none sent


def test_a_new_op_after_a_memo_hit_shows_real_rows_in():
    with bf.ProjectFolder("chain"):
        g = build()
        g.run()
        g = g | TakeFirstN(5)
        g.run()
        c = chain(g)
        assert c["poems"] == (20, 20, "memo")  # rows in from its input's remembered rows
        assert c["TakeFirstN"] == (20, 5, "run")
