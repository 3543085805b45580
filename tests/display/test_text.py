"""Plain-text formats and the terminal progress bars."""

from __future__ import annotations

import io
import re

from bfnb.display.text import (
    TextProgress,
    cell_text,
    format_compact,
    format_cost,
    format_int,
    format_seconds,
    grid,
    safe_repr,
    summary_line,
    total_cost,
    width,
)
from bfnb.widgets.state import PanelState


def test_cost_formats_never_show_unknown_as_zero():
    assert format_cost(None) == "unknown"
    assert format_cost(float("nan")) == "unknown"
    assert format_cost(0) == "$0"
    assert format_cost(0.0123) == "$0.0123"
    assert format_cost(0.5) == "$0.5"
    assert format_cost(0.0000123) == "$0.000012"
    assert format_cost(1234.5) == "$1,234.50"
    assert total_cost([0.01, None, 0.02]) == "$0.03 + unknown"
    assert total_cost([None, None]) == "unknown"
    assert total_cost([0.0, 0.0]) == "$0"


def test_number_formats():
    assert format_int(5000) == "5,000"
    assert format_compact(1234) == "1.2K"
    assert format_compact(999) == "999"
    assert format_compact(3_400_000) == "3.4M"
    assert format_compact(2000) == "2K"
    assert format_seconds(0.42) == "0.42 s"
    assert format_seconds(12.3) == "12 s"
    assert format_seconds(185) == "3 min 05 s"
    assert format_seconds(None) == "—"


def test_grid_aligns_wide_characters_and_keeps_one_line_per_row():
    out = grid(["name", "n"], [["宙斯", "1"], ["Zeus\nKing", "22"]], right=[False, True])
    lines = out.splitlines()
    assert lines == ["name        n", "---------  --", "宙斯        1", "Zeus⏎King  22"]
    assert width("宙斯") == 4
    assert cell_text("abcdefgh", 5) == "abcd…"


def test_safe_repr_drops_addresses():
    assert " at 0x" not in safe_repr(object())

    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    assert safe_repr(Broken()) == "<Broken: repr failed: RuntimeError>"


def make_state(**kw) -> PanelState:
    base = dict(
        name="chat gpt-4o-mini@local",
        done=3,
        cached=2,
        input_tokens=1000,
        output_tokens=200,
        started_at=10.0,
        updated_at=10.4,
    )
    base.update(kw)
    return PanelState(**base)


def test_summary_line():
    assert summary_line(make_state()) == "chat gpt-4o-mini@local: 5 done (2 cached), 0 failed, 1.2K tokens, $0 — 0.40 s"
    assert "unknown" in summary_line(make_state(cost_known=False, cost_usd=0.5))
    assert summary_line(make_state(cost_usd=0.0123)).endswith("$0.0123 — 0.40 s")


def test_text_progress_writes_bars_and_a_summary():
    buf = io.StringIO()
    st = make_state(pending=5)
    progress = TextProgress(lambda: [st], file=buf, disable=False)
    progress.refresh()
    assert "chat gpt-4o-mini@local" in buf.getvalue() and "5/10" in buf.getvalue()
    st.pending, st.done = 0, 8
    progress.close()
    progress.close()  # idempotent
    out = buf.getvalue()
    assert "10/10" in out
    summary = [line for line in re.split(r"[\r\n]", out) if "done (" in line]
    assert summary == ["chat gpt-4o-mini@local: 10 done (2 cached), 0 failed, 1.2K tokens, $0 — 0.40 s"]
    assert repr(progress) == "TextProgress(brokers=['chat gpt-4o-mini@local'])"


def test_text_progress_bars_hidden_off_terminal_but_summary_kept():
    buf = io.StringIO()  # not a tty: disable=None hides the bar
    with TextProgress(lambda: [make_state()], file=buf) as progress:
        progress.refresh()
    assert buf.getvalue() == "chat gpt-4o-mini@local: 5 done (2 cached), 0 failed, 1.2K tokens, $0 — 0.40 s\n"
