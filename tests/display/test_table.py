"""BatchTable: what a user sees of a batch in HTML and in plain text."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bfnb.batch import from_columns
from bfnb.display import BatchTable, render_table_html, render_table_text
from bfnb.display.table import column_kind, summarize

PAYLOAD = "<img src=x onerror=alert(1)>"
ROOT = Path(__file__).resolve().parents[2]


def batch(_n: int = 3, **fields):
    return from_columns([f"e{i}" for i in range(_n)], fields)


def test_payload_in_values_fields_and_idx_is_shown_as_text():
    df = from_columns([PAYLOAD, "b"], {PAYLOAD: [PAYLOAD, "fine"], "t": ["<script>x()</script>", PAYLOAD * 30]})
    out = render_table_html(df)
    assert "<img" not in out and "<script>" not in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    # the expanded (long) text is escaped as well
    assert out.count("&lt;img src=x onerror=alert(1)&gt;") >= 3 + 30
    # title and error text are escaped too
    failed = df.assign(status=["failed", None], error=[PAYLOAD, None])
    assert "<img" not in render_table_html(failed, title=PAYLOAD)


def test_long_text_is_shortened_with_native_details_and_full_text():
    long = "word " * 100 + "END"
    out = render_table_html(batch(2, t=[long, "short"]), max_chars=50)
    assert out.count("<details>") == 1
    summary = re.search(r"<summary>(.*?)</summary>", out, re.S).group(1)
    assert long[:50] + "…" in summary and "END" not in summary
    assert "[503 chars]" in summary
    assert "END</div>" in out  # the full text is inside the expandable part
    assert "short" in out and "<script" not in out  # no JavaScript


def test_huge_values_are_capped_when_expanded():
    huge = "x" * 100_000
    out = render_table_html(batch(1, t=[huge]))
    assert len(out) < 30_000
    assert "80,000 more characters not shown" in out


def test_newlines_preserved_in_html():
    out = render_table_html(batch(1, t=["line one\nline two"]))
    assert "line one\nline two" in out
    assert "white-space:pre-wrap" in out


def test_header_counts_with_thousands_separators():
    df = batch(5000, n=list(range(5000)))
    assert "showing 20 of 5,000 entries" in render_table_html(df)
    text = render_table_text(df)
    assert text.splitlines()[0] == "showing 20 of 5,000 entries"
    assert len(text.splitlines()) == 4 + 20  # count, names, kinds, rule, then rows
    assert "1 entry" in render_table_text(batch(1, n=[1]))
    assert render_table_text(batch(3, n=[1, 2, 3]), max_rows=None).startswith("3 entries")


def test_summaries_of_containers_arrays_bytes_and_embeddings():
    emb = np.linspace(-1, 1, 256, dtype="float32")
    assert summarize(list("abcdefghijkl"))[0] == "list[12]: [a, b, c, …]"
    assert summarize({"k": 1, "name": "Zeus", "deep": {"x": 1}}) == ("dict{3}: {k: 1, name: Zeus, deep: dict{1}}", True)
    assert summarize({"a": 1, "b": 2, "c": 3, "d": 4})[0] == "dict{4}: {a: 1, b: 2, c: 3, …}"
    assert summarize(emb)[0] == "array(256,) float32 [-1, -0.992, …]"
    assert summarize(np.zeros((2, 3), dtype="int64"))[0] == "array(2, 3) int64 [0, 0, 0, …]"
    assert summarize(b"\0" * 1024)[0] == "bytes[1,024]"
    assert summarize([0.5] * 1536)[0] == "list[1536] float [0.5, 0.5, …]"
    assert summarize(["a", "b"]) == ("list[2]: [a, b]", False)

    df = batch(
        2,
        tags=[list("abcdefghijkl"), ["x"]],
        emb=[emb, emb],
        raw=[b"\0" * 1024, b""],
        vec=[[0.1] * 16, [0.2] * 16],
        meta=[{"k": 1}, {"k": 2}],
    )
    out = render_table_html(df)
    for expected in (
        "list[12]: [a, b, c, …]",
        "array(256,) float32 [-1, -0.992, …]",
        "bytes[1,024]",
        "list[16] float [0.1, 0.1, …]",
        "dict{1}: {k: 1}",
    ):
        assert expected in out
        assert expected in render_table_text(df, max_width=60)
    # an elided list can be expanded to its full content
    assert "<details>" in out and "&quot;l&quot;" in out


def test_column_kinds():
    emb = np.zeros(256, dtype="float32")
    df = batch(
        3,
        t=["a", None, "c"],
        i=[1, 2, 3],
        f=[0.5, 1.0, 2.0],
        l=[[1], [2], []],
        d=[{}, {}, {}],
        a=[emb, emb, emb],
        b=[b"", b"x", b"y"],
        m=["a", 1, None],
        e=[[0.1] * 8] * 3,
        n=[None] * 3,
    )
    kinds = {c: column_kind(df[c]) for c in df.columns if c != "rev"}
    assert kinds == {
        "t": "text",
        "i": "int",
        "f": "float",
        "l": "list",
        "d": "dict",
        "a": "array[256] float32",
        "b": "bytes",
        "m": "mixed",
        "e": "list[8] float",
        "n": "none",
    }
    out = render_table_text(df)
    assert "[array[256] float32]" in out and "[mixed]" in out


def test_failed_rows_marked_with_their_error_and_pending_greyed():
    df = batch(3, t=["ok", "bad", "later"]).assign(
        status=[None, "failed", "pending"], error=[None, "RateLimited: 429 after 5 attempts", None]
    )
    out = render_table_html(df)
    failed = re.search(r'<tr class="bfnb-failed">(.*?)</tr><tr class="bfnb-errrow">(.*?)</tr>', out, re.S)
    assert "⚠" in failed.group(1) and "bad" in failed.group(1)
    assert failed.group(2) == '<td colspan="3">⚠ error: RateLimited: 429 after 5 attempts</td>'
    assert re.search(r'<tr class="bfnb-pending">.*later.*?</tr>', out, re.S)
    assert "1 failed · 1 pending" in out
    # status / error are shown as marks, not as extra field columns
    assert ">status<" not in out and ">error<" not in out

    lines = render_table_text(df).splitlines()
    assert lines[0] == "3 entries · 1 failed · 1 pending"
    bad = next(i for i, line in enumerate(lines) if "bad" in line)
    assert lines[bad].startswith("⚠ e1")
    assert lines[bad + 1].strip() == "error: RateLimited: 429 after 5 attempts"
    assert next(line for line in lines if "later" in line).startswith("… e2")


class Opaque:
    pass


def test_text_fallback_is_deterministic():
    def make():
        return batch(
            2,
            t=["a\nb", "c"],
            o=[Opaque(), Opaque()],
            f=[0.1 + 0.2, float("nan")],
            emb=[np.arange(4, dtype="float32")] * 2,
        )

    text = render_table_text(make())
    assert text == render_table_text(make())
    assert "0x" not in text  # no memory addresses from default reprs
    assert "Opaque object>" in text
    assert "a⏎b" in text  # one line per entry
    assert "0.3" in text and "NaN" in text
    assert re.search(r"\d{2}:\d{2}", text) is None


def test_mimebundle_and_repr():
    t = BatchTable(batch(2, t=["a", "b"]), title="poems")
    bundle = t._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"] == repr(t) == str(t)
    assert bundle["text/plain"].startswith("poems · 2 entries")
    assert 'class="bfnb bfnb-table"' in bundle["text/html"] and "var(--jp-" in bundle["text/html"]
    assert set(t._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(t._repr_mimebundle_(exclude=["text/plain"])) == {"text/html"}


def test_empty_batch_and_missing_values():
    from bfnb.batch import empty

    df = empty(["t"])
    assert render_table_text(df).startswith("0 entries")
    assert "<th>t" in render_table_html(df)
    out = render_table_html(batch(1, t=[None], f=[float("nan")]))
    assert '<span class="bfnb-none">None</span>' in out and "NaN" in out


def test_module_runs_as_a_demo():
    proc = subprocess.run(
        [sys.executable, "-m", "bfnb.display.table"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stderr == ""
    assert proc.stdout.startswith("sample · showing 4 of 5 entries · 1 failed · 1 pending")
    assert "error: ProviderError: 429" in proc.stdout


@pytest.mark.parametrize("bad", [{"a": [1, 2]}, object()])
def test_odd_values_do_not_break_rendering(bad):
    render_table_html(batch(1, v=[bad]))
    render_table_text(batch(1, v=[bad]))


def test_non_text_field_names_and_huge_containers():
    df = batch(1, history=[[{"role": "user", "content": "x" * 50_000}]]).rename(columns={"history": 7})
    assert render_table_text(df).splitlines()[1].split() == ["idx", "rev", "7"]
    html = render_table_html(df)
    assert "list[1]: [dict{2}]" in html and len(html) < 30_000 and "(cut)" in html
