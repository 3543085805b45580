"""Sinks: writers (atomic, round trips), collectors and printers, through real graphs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import bfnb as bf
from bfnb import batch as B
from bfnb.op import (
    FromList,
    MapField,
    OutputEntries,
    PrintEntry,
    PrintField,
    ReadJsonl,
    ReadMarkdownEntries,
    ReadMarkdownLines,
    ReadParquet,
    ReadTxtFolder,
    SetField,
    Sort,
    ToList,
    WriteJsonl,
    WriteMarkdownEntries,
    WriteMarkdownLines,
    WriteParquet,
    WriteTxtFolder,
)


def rich_records():
    return [
        {
            "idx": "a",
            "rev": 2,
            "text": "héllo",
            "n": 1,
            "x": 0.5,
            "ok": True,
            "arr": np.arange(3, dtype="float32"),
            "raw": b"\x00\xff",
            "tags": ["p", "q"],
            "meta": {"k": [1, None]},
            "none": None,
        },
        {
            "idx": "b",
            "rev": 0,
            "text": None,
            "n": 2,
            "x": float("nan"),
            "ok": False,
            "arr": np.zeros((2, 2)),
            "raw": b"",
            "tags": [],
            "meta": {},
            "none": None,
        },
    ]


def assert_same_batch(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert a.index.tolist() == b.index.tolist()
    assert a["rev"].tolist() == b["rev"].tolist()
    assert B.data_fields(a) == B.data_fields(b)
    for f in B.data_fields(a):
        for va, vb in zip(a[f].tolist(), b[f].tolist(), strict=True):
            if isinstance(va, np.ndarray):
                assert isinstance(vb, np.ndarray) and va.dtype == vb.dtype and np.array_equal(va, vb)
            elif isinstance(va, float) and math.isnan(va):
                assert math.isnan(vb)
            else:
                assert va == vb and type(va) is type(vb), (f, va, vb)


def test_writejsonl_then_readjsonl_gives_the_same_batch(tmp_path):
    p = tmp_path / "deep" / "dir" / "out.jsonl"
    original = FromList(rich_records()).to_graph().run()
    (FromList(rich_records()) | WriteJsonl(p)).run()
    first = json.loads(p.read_text().splitlines()[0])
    assert list(first)[:2] == ["idx", "rev"] and first["idx"] == "a" and first["rev"] == 2
    assert_same_batch(original, ReadJsonl(p).to_graph().run())


def test_writeparquet_then_readparquet_gives_the_same_batch(tmp_path):
    p = tmp_path / "out.parquet"
    original = FromList(rich_records()).to_graph().run()
    (FromList(rich_records()) | WriteParquet(p)).run()
    assert_same_batch(original, ReadParquet(p).to_graph().run())


def test_writejsonl_output_keys_and_a_path_without_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = (
        FromList([{"idx": "a", "t": "x", "u": 1}]) | WriteJsonl("plain.jsonl", output_keys="t") | ToList("u")
    ).execute()
    assert out == [1]  # the batch passes through unchanged
    assert json.loads((tmp_path / "plain.jsonl").read_text()) == {"idx": "a", "rev": 0, "t": "x"}


def test_writers_write_the_whole_batch_once_per_run(tmp_path):
    p = tmp_path / "o.jsonl"
    g = FromList([{"n": i} for i in range(5)]) | Sort("n", reverse=True) | WriteJsonl(p)
    g.run()
    assert [json.loads(line)["n"] for line in p.read_text().splitlines()] == [4, 3, 2, 1, 0]
    p.unlink()
    g.run()  # a sink runs on every run, even when everything upstream is memoised
    assert len(p.read_text().splitlines()) == 5


def test_markdown_lines_round_trip_with_sort_and_escaping(tmp_path):
    p = tmp_path / "out" / "lines.md"
    recs = [
        {"keyword": "b", "headings": ["Chapter 10"]},
        {"keyword": "# not a heading", "headings": ["Chapter 2"]},
        {"keyword": "a", "headings": ["Chapter 2", "Part 1"]},
    ]
    (FromList(recs) | WriteMarkdownLines(p, sort=True)).run()
    assert p.read_text().index("Chapter 2") < p.read_text().index("Chapter 10")
    back = (ReadMarkdownLines(p) | ToList("keyword", "headings")).execute()
    assert back == [
        {"keyword": "# not a heading", "headings": ["Chapter 2"]},
        {"keyword": "a", "headings": ["Chapter 2", "Part 1"]},
        {"keyword": "b", "headings": ["Chapter 10"]},
    ]


def test_markdown_entries_round_trip_one_file_per_filename(tmp_path):
    recs = [
        {"text": "Once upon a time.\n\n## not a heading", "headings": ["Tales", "One"], "filename": "book"},
        {"text": "The end.", "headings": ["Tales", "Two"], "filename": "book"},
        {"text": "Other.", "headings": ["X"], "filename": "notes"},
    ]
    (FromList(recs) | WriteMarkdownEntries(tmp_path, filename_key="filename")).run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.md", "notes.md"]
    back = (ReadMarkdownEntries(str(tmp_path / "*.md")) | ToList()).execute()
    assert back == recs


def test_writetxtfolder_round_trip_repr_and_export(tmp_path):
    import bfnb.op

    assert "WriteTxtFolder" in bfnb.op.__all__
    op = WriteTxtFolder(tmp_path / "txt")
    assert repr(op).startswith("WriteTxtFolder(")
    recs = [{"text": "alpha", "filename": "a"}, {"text": "beta", "filename": "sub/b"}]
    (FromList(recs) | op).run()
    assert (tmp_path / "txt" / "sub" / "b.txt").read_text() == "beta"
    assert (ReadTxtFolder(tmp_path / "txt") | ToList()).execute() == recs


@pytest.mark.parametrize("name", ["../evil", "/etc/x", "a/../../b", ""])
def test_writetxtfolder_refuses_names_that_escape(tmp_path, name):
    g = FromList([{"text": "x", "filename": name}]) | WriteTxtFolder(tmp_path / "d")
    with pytest.raises(bf.OpError, match="escapes the output folder"):
        g.run()
    assert not (tmp_path / "d").exists() and not (tmp_path / "evil").exists()


def test_tolist_shapes_and_second_execute():
    src = FromList([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    one = src | ToList("a")
    assert one.execute() == [1, 2]
    assert one.execute() == [1, 2]  # reset every run (batchfactory crashed here)
    assert (src | ToList("a", "b")).execute() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert (src | ToList()).execute() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert (src | MapField(lambda a: a * 10, "a") | ToList(["a"])).execute() == [10, 20]


def test_outputentries_gives_idx_rev_and_fields():
    out = (FromList([{"idx": "k", "rev": 1, "t": "x"}]) | SetField("u", 2) | OutputEntries()).execute()
    assert [(e.idx, e.rev, e.data) for e in out] == [("k", 1, {"t": "x", "u": 2})]
    assert [e.to_dict() for e in out] == [{"idx": "k", "rev": 1, "t": "x", "u": 2}]


def test_several_collectors_return_a_tuple_in_graph_order():
    g = FromList(["a"], "t") | ToList("t") | OutputEntries()
    values, entries = g.execute()
    assert values == ["a"] and entries[0].data["t"] == "a"


def test_print_entry_and_field(capsys):
    (
        FromList([{"idx": "k1", "t": "hello"}, {"idx": "k2", "t": "world"}]) | PrintEntry(first_n=1) | PrintField("t")
    ).run()
    out = capsys.readouterr().out
    assert "idx: k1" in out and "t: hello" in out and "idx: k2" not in out.split("(2 entries)")[0]
    assert "--- k2 ---\nworld" in out


def test_empty_batch_writes_an_empty_file(tmp_path):
    p = tmp_path / "e.jsonl"
    (FromList([], "t") | WriteJsonl(p)).run()
    assert p.read_bytes() == b""
