"""A notebook cell that builds ``g | op`` and throws it away is told to write ``g |= op``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import bfnb as bf
from bfnb._ipython import discarded_graphs
from bfnb.op import FromList, MapField

SEED_SPAWN_SNIPPET = """
g |= MapField(create_input_chunks, "text", "text_segments")
spawn_chain = AskLLM(LABEL_SEG_PROMPT, model=model, output_key="labels")
spawn_chain |= MapField(F.text_to_integer_list, "labels")
g | ListParallel(spawn_chain, "text_segments", "text", "labels", "labels")
g |= MapField(post_processing, ["text", "labels"], ["text_segments", "labels"])
"""


def test_the_seed_spawn_snippet_is_flagged_at_its_line():
    ns = {"g": bf.Graph() | FromList([{"text": "x"}]), "spawn_chain": MapField(str, "text")}
    (msg,) = discarded_graphs(SEED_SPAWN_SNIPPET, ns)
    assert msg.startswith("bfnb: line 5: `g | ListParallel(spawn_chain")
    assert "throws it away" in msg and "`g |= ...`" in msg


def test_only_graphs_and_ops_and_only_discarded_statements():
    ns = {"g": bf.Graph(), "op": MapField(str, "t"), "s": {1}}
    src = textwrap.dedent("""
        h = g | op           # kept
        s | {2}              # sets, not graphs
        with open(__file__):
            op | MapField(str, "u")
        def f():
            g | op           # not run by the cell
        g | op
    """)
    msgs = discarded_graphs(src, ns)
    assert [m.split(":")[1].strip() for m in msgs] == ["line 5", "line 8"]
    assert "builds a new graph" in msgs[0] and "is shown but not kept" in msgs[1]
    assert discarded_graphs("g |= op\nh = g | op\ng(", ns) == []  # a syntax error: no guess


@pytest.mark.notebook
@pytest.mark.slow
def test_a_kernel_warns_after_the_cell_and_after_the_error_it_causes(tmp_path: Path):
    from tests.notebooks.test_cells import Kernel

    k = Kernel(tmp_path)
    try:
        k.ok("import bfnb as bf\nfrom bfnb.op import *\ng = bf.Graph() | FromList([{'n': 1}])", "c1")
        cell = k.run("g | MapField(lambda n: n + 1, 'n', 'm')\ng |= MapField(lambda m: m, 'm', 'k')", "c2")
        assert cell.errors and "MissingFieldError" in cell.errors[0]  # the failure two ops later...
        assert "line 1: `g | MapField(lambda n: n + 1, 'n', 'm')` builds a new graph" in cell.stderr  # ...explained
        fixed = k.ok("g |= MapField(lambda n: n + 1, 'n', 'm')\ng |= MapField(lambda m: m, 'm', 'k')", "c2")
        assert "bfnb: line" not in fixed.stderr
    finally:
        k.close()
