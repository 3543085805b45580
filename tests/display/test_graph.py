"""GraphView: the op chain of a run, then its result."""

from __future__ import annotations

import re

from bfnb.batch import from_columns
from bfnb.display import GraphView

OPS = [
    dict(
        label="ReadMarkdownEntries",
        kind="source",
        rows_in=None,
        rows_out=5,
        cached="memo",
        calls_sent=0,
        calls_cached=0,
        cost_usd=None,
        seconds=0.012,
        tag=None,
    ),
    dict(
        label="AskLLM",
        kind="broker",
        rows_in=5,
        rows_out=5,
        cached=False,
        calls_sent=3,
        calls_cached=2,
        cost_usd=0.0123,
        seconds=1.5,
        tag="poems",
    ),
    dict(
        label="Embed",
        kind="broker",
        rows_in=5,
        rows_out=5,
        cached="ledger",
        calls_sent=0,
        calls_cached=5,
        cost_usd=0.0,
        seconds=0.2,
        tag=None,
    ),
    dict(
        label="Custom<model>",
        kind="broker",
        rows_in=5,
        rows_out=4,
        cached=True,
        calls_sent=4,
        calls_cached=0,
        cost_usd=None,
        seconds=0.3,
        tag=None,
    ),
]


def result():
    return from_columns(["a", "b"], {"poem": ["roses", "<img src=x onerror=alert(1)>"]})


def test_text_lists_ops_costs_and_the_result_table_without_times():
    text = GraphView(OPS, result())._render_text()
    lines = text.splitlines()
    assert lines[0] == "4 ops"
    assert lines[1].split() == ["#", "op", "rows", "in", "→", "out", "from", "calls", "cost"]
    assert re.search(r"1\s+ReadMarkdownEntries\s+5\s+memo\s*$", lines[3])
    assert re.search(r"2\s+AskLLM \[poems\]\s+5 → 5\s+3 sent, 2 cached\s+\$0\.0123$", lines[4])
    assert re.search(r"3\s+Embed\s+5 → 5\s+ledger\s+0 sent, 5 cached\s+\$0$", lines[5])
    assert lines[6].endswith("unknown")
    assert "cached" in lines[6]
    assert re.search(r"total\s+7 sent, 7 cached\s+\$0\.0123 \+ unknown$", lines[7])
    assert "2 entries" in text and "roses" in text
    assert " s" not in text.split("2 entries")[0].replace(" sent", "")  # no seconds anywhere
    assert text == GraphView(OPS, result())._render_text()


def test_html_has_chain_times_in_sanitizable_spans_and_escaped_result():
    html = GraphView(OPS, result())._render_html()
    assert html.count("<style>") == 1
    assert 'class="bfnb bfnb-graph"' in html and 'class="bfnb bfnb-table"' in html
    assert "Custom&lt;model&gt;" in html and "<img" not in html
    assert '<span class="bfnb-time">1.5 s</span>' in html
    assert '<span class="bfnb-time">2.0 s</span>' in html  # the total
    assert "$0.0123 + unknown" in html
    assert html.index("bfnb-graph") < html.index("bfnb-table")


def test_without_result_and_without_ops():
    view = GraphView(OPS[:1])
    assert "bfnb-table" not in view._render_html()
    assert view._render_text().startswith("1 op\n")
    assert GraphView([])._render_text().startswith("0 ops")
