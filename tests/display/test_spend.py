"""SpendSummary: calls, tokens and dollars; an unknown price is never $0."""

from __future__ import annotations

from bfnb.display import SpendSummary


def test_totals_with_an_unknown_cost():
    rows = [
        dict(op="AskLLM", calls_sent=3, calls_cached=2, input_tokens=1200, output_tokens=300, cost_usd=0.0123),
        dict(op="Embed", calls_sent=5, calls_cached=0, input_tokens=5000, output_tokens=0, cost_usd=None),
    ]
    s = SpendSummary(rows)
    lines = s._render_text().splitlines()
    assert lines[0] == "spend over 2 ops"
    assert lines[1].split() == ["op", "calls", "sent", "calls", "cached", "input", "tokens", "output", "tokens", "cost"]
    assert lines[3].split() == ["AskLLM", "3", "2", "1,200", "300", "$0.0123"]
    assert lines[4].split() == ["Embed", "5", "0", "5,000", "0", "unknown"]
    assert lines[5].split() == ["total", "8", "2", "6,200", "300", "$0.0123", "+", "unknown"]
    assert s.total_cost_usd is None
    html = s._render_html()
    assert "unknown" in html and '<tr class="bfnb-total">' in html


def test_known_costs_and_brokers():
    s = SpendSummary(
        [dict(broker="chat <x>@local", calls_sent=1, calls_cached=0, input_tokens=1, output_tokens=1, cost_usd=0.0)],
        title="run",
    )
    text = s._render_text()
    assert text.startswith("run · spend over 1 broker\nbroker")
    assert text.splitlines()[-1].split()[-1] == "$0"
    assert s.total_cost_usd == 0.0
    assert "chat &lt;x&gt;@local" in s._render_html()
    assert SpendSummary([])._render_text().splitlines()[-1].split() == ["total", "0", "0", "0", "0", "$0"]
