"""Lossless batch conversions: JSONL bytes, Arrow tables and Parquet files."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bfnb import batch as B
from bfnb.convert import (
    batch_from_arrow,
    batch_from_jsonl_records,
    batch_to_arrow,
    batch_to_jsonl_bytes,
    read_parquet,
    write_parquet,
)
from bfnb.errors import SourceError
from bfnb.formats.jsonl import decode_record, read_jsonl

ARR = (np.arange(6, dtype=np.float32).reshape(2, 3) / 3).astype(np.float32)


def sample() -> pd.DataFrame:
    """Every kind of value a field may hold, including None in every object column."""
    return B.from_columns(
        ["e0", "e1", "ü/2"],
        {
            "text": ["hello", None, 'unicode ✓ 漢字 "q" \\ \n\t end",'],
            "n": [1, -2, 3],
            "x": [1.5, float("nan"), -0.0],
            "flag": [True, False, True],
            "items": [[1, "a"], None, []],
            "meta": [{"a": {"b": [1, {"c": None}]}}, {}, None],
            "vec": [ARR, None, np.zeros(0, dtype=np.int16)],
            "blob": [b"\x00\xff", None, b""],
            "tagged": [{"$bytes": "x"}, {"$esc": 1}, "plain"],
            "mixed": [1, "two", 3.0],
            "nones": [None, None, None],
            "chars": [",", '",', "a\\"],
        },
        rev=[0, 3, 1],
    )


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a.index.tolist() == b.index.tolist() and a.index.name == b.index.name == "idx"
    assert b.index.dtype == object
    for c in a.columns:
        assert a[c].dtype == b[c].dtype, c
        for u, v in zip(a[c].tolist(), b[c].tolist(), strict=True):
            assert_value(u, v, c)


def assert_value(u, v, where):
    if isinstance(u, np.ndarray):
        assert isinstance(v, np.ndarray) and u.dtype == v.dtype and u.shape == v.shape, where
        assert np.array_equal(u, v), where
    elif isinstance(u, float) and math.isnan(u):
        assert isinstance(v, float) and math.isnan(v), where
    else:
        assert type(u) is type(v) and u == v, (where, u, v)
        if isinstance(u, float):
            assert math.copysign(1, u) == math.copysign(1, v), where


def from_jsonl(data: bytes) -> pd.DataFrame:
    return batch_from_jsonl_records([decode_record(orjson.loads(ln)) for ln in data.splitlines()])


def test_jsonl_roundtrip_is_exact():
    df = sample()
    data = batch_to_jsonl_bytes(df)
    assert data.count(b"\n") == len(df) and data.endswith(b"}\n")
    assert_same(df, from_jsonl(data))


def test_jsonl_line_layout_idx_rev_first_and_valid_json():
    df = sample()
    for line, ix, rv in zip(batch_to_jsonl_bytes(df).splitlines(), df.index, df["rev"], strict=True):
        rec = orjson.loads(line)
        assert list(rec)[:2] == ["idx", "rev"] and rec["idx"] == ix and rec["rev"] == rv
        assert list(rec)[2:] == B.data_fields(df)


def test_jsonl_matches_per_row_encoding():
    """The vectorised writer gives the same bytes as encoding row by row."""
    from bfnb.formats.jsonl import dumps_line

    df = sample()
    expected = b"".join(dumps_line(r) for r in B.to_records(df))
    assert batch_to_jsonl_bytes(df) == expected


def test_jsonl_field_subset_and_empty_batch():
    df = sample()
    sub = batch_to_jsonl_bytes(df, fields=["n", "text"])
    assert list(orjson.loads(sub.splitlines()[0])) == ["idx", "rev", "n", "text"]
    assert batch_to_jsonl_bytes(df.iloc[:0]) == b""
    with pytest.raises(KeyError):
        batch_to_jsonl_bytes(df, fields=["absent"])


@pytest.mark.parametrize(
    "strings",
    [
        [","] * 5,  # every value is a separator look-alike
        ['a",', 'b",', ","],
        ["", "", ""],
        ["\\", '\\"', '"\\'],
        ["one"],
    ],
)
def test_jsonl_strings_that_look_like_separators(strings):
    df = B.from_columns([f"i{k}" for k in range(len(strings))], {"s": strings, "t": strings})
    out = from_jsonl(batch_to_jsonl_bytes(df))
    assert out["s"].tolist() == strings and out["t"].tolist() == strings


@pytest.mark.parametrize("long_first", [False, True])
def test_jsonl_same_bytes_as_per_row_across_chunks_and_field_subsets(long_first):
    """Long and short text, None, separator look-alikes, lists: same bytes as row by row."""
    from bfnb.formats.jsonl import dumps_line

    n = 17_000  # two chunks
    long = [("x" * 90 + f' {i} "q",\n') if i % 7 else None for i in range(n)]
    long[5] = '",'  # a separator look-alike in a long column
    short = [f"s{i}" if i % 5 else None for i in range(n)]
    short[3] = '",'
    idx = [("k" * 60 if long_first else "") + f"{i}" for i in range(n)]
    df = B.from_columns(
        idx,
        {
            "a": long,
            "b": list(long),
            "c": short,
            "d": np.arange(n),
            "e": [[i] for i in range(n)],
            "f": list(long),
        },
    )
    expected = b"".join(dumps_line(r) for r in B.to_records(df))
    assert batch_to_jsonl_bytes(df) == expected
    for fields in (["a"], ["c"], ["d", "a"], ["a", "e"], []):
        expected = b"".join(dumps_line(r) for r in B.to_records(df[["rev", *fields]]))
        assert batch_to_jsonl_bytes(df, fields=fields) == expected, fields


def test_jsonl_long_texts_use_smaller_chunks_with_same_bytes():
    from bfnb.formats.jsonl import dumps_line

    n = 3000
    texts = [f"{i}: " + 'long paragraph, "quoted"\n' * 300 for i in range(n)]  # ~8 kB each
    df = B.from_columns([f"p{i}" for i in range(n)], {"text": texts, "k": np.arange(n)})
    assert batch_to_jsonl_bytes(df) == b"".join(dumps_line(r) for r in B.to_records(df))


def test_jsonl_large_batch_and_typed_columns():
    n = 20_000
    df = B.from_columns(
        [f"k{i}" for i in range(n)],
        {
            "text": [f'row {i}, "quoted"\nline' for i in range(n)],
            "n": np.arange(n, dtype=np.int32),
            "u": np.arange(n, dtype=np.uint64) * np.uint64(2**40),
            "f": np.linspace(0, 1, n),
            "f32": np.linspace(0, 1, n).astype(np.float32),
        },
    )
    from bfnb.formats.jsonl import dumps_line

    fields = ["text", "n", "u", "f"]  # (orjson writes float32 in its own shortest form)
    per_row = b"".join(dumps_line(r) for r in B.to_records(df[["rev", *fields]]))
    assert batch_to_jsonl_bytes(df, fields=fields) == per_row  # several chunks, same bytes
    out = from_jsonl(batch_to_jsonl_bytes(df))
    assert out["text"].tolist() == df["text"].tolist()
    assert out["n"].tolist() == df["n"].tolist() and out["u"].tolist() == df["u"].tolist()
    assert np.array_equal(out["f"].to_numpy(), df["f"].to_numpy())
    # JSON has no float32: values come back as the float64 nearest each float32
    assert np.array_equal(out["f32"].to_numpy().astype(np.float32), df["f32"].to_numpy())


def test_jsonl_unencodable_value_names_idx_and_field():
    df = B.from_columns(["a", "b"], {"s": [{1, 2}, "x"]})
    with pytest.raises(TypeError, match=r"idx 'a'.*field 's'"):
        batch_to_jsonl_bytes(df)


def test_jsonl_through_a_file(tmp_path):
    df = sample()
    p = tmp_path / "b.jsonl"
    p.write_bytes(batch_to_jsonl_bytes(df))
    assert_same(df, batch_from_jsonl_records(r for _, r in read_jsonl(p)))


def test_from_records_missing_fields_and_bad_idx():
    df = batch_from_jsonl_records([{"idx": "a", "rev": 2, "x": 1}, {"idx": "b", "y": "s"}])
    assert df["rev"].tolist() == [2, 0]
    assert df["x"].tolist() == [1, None] and df["y"].tolist() == [None, "s"]
    assert df["x"].dtype == object and df["y"].dtype == object
    with pytest.raises(ValueError, match="record 1"):
        batch_from_jsonl_records([{"idx": "a"}, {"x": 1}])


def test_arrow_roundtrip_is_exact_and_typed():
    df = sample()
    table = batch_to_arrow(df)
    assert table.column_names == ["idx", *df.columns]
    types = dict(zip(table.column_names, table.schema.types, strict=True))
    assert types["idx"] == pa.string() and types["rev"] == pa.int64()
    assert types["n"] == pa.int64() and types["x"] == pa.float64() and types["flag"] == pa.bool_()
    assert types["text"] == pa.string() and types["blob"] == pa.binary()
    encoded = orjson.loads(table.schema.metadata[b"bfnb.encoded"])
    assert set(encoded) == {"items", "meta", "vec", "tagged", "mixed"}
    assert table.column("text").null_count == 1  # None is a real null, not the string "None"
    assert math.isnan(table.column("x")[1].as_py())  # NaN stays NaN, not null
    assert_same(df, batch_from_arrow(table))


def test_parquet_roundtrip(tmp_path):
    df = sample()
    p = tmp_path / "sub" / "b.parquet"
    write_parquet(df, p)
    assert_same(df, read_parquet(p))
    # other tools see typed columns
    plain = pq.read_table(p).to_pandas()
    assert plain["n"].tolist() == [1, -2, 3]


def test_parquet_write_is_atomic(tmp_path):
    p = tmp_path / "b.parquet"
    write_parquet(sample(), p)
    before = p.read_bytes()
    bad = B.from_columns(["z"], {"v": [{1, 2}]})  # a set cannot be encoded
    with pytest.raises(TypeError):
        write_parquet(bad, p)
    assert p.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["b.parquet"]


def test_read_parquet_errors(tmp_path):
    with pytest.raises(SourceError, match=r"nope\.parquet"):
        read_parquet(tmp_path / "nope.parquet")
    p = tmp_path / "noidx.parquet"
    pq.write_table(pa.table({"a": [1]}), p)
    with pytest.raises(SourceError, match="idx"):
        read_parquet(p)


def test_foreign_arrow_table():
    table = pa.table(
        {
            "idx": ["a", "b"],
            "maybe_int": pa.array([1, None], pa.int64()),
            "lst": pa.array([[1, 2], None], pa.list_(pa.int64())),
            "when": pa.array([0, 86_400_000_000], pa.timestamp("us")),
            "i32": pa.array([1, 2], pa.int32()),
        }
    )
    df = batch_from_arrow(table)
    assert list(df.columns) == ["rev", "maybe_int", "lst", "when", "i32"]
    assert df["rev"].tolist() == [0, 0]
    assert df["maybe_int"].tolist() == [1, None]
    assert df["lst"].tolist() == [[1, 2], None]
    assert df["when"].dtype.kind == "M"
    assert df["i32"].dtype == np.int32


def test_empty_batch_roundtrips():
    df = B.empty(["a", "b"])
    out = batch_from_arrow(batch_to_arrow(df))
    assert len(out) == 0 and list(out.columns) == ["rev", "a", "b"]


def test_string_dtype_column_is_written_as_text_with_none():
    df = B.from_columns(["a", "b"], {"s": ["x", "y"]})
    df["s"] = pd.array(["x", None], dtype="string")
    out = from_jsonl(batch_to_jsonl_bytes(df))
    assert out["s"].tolist() == ["x", None]
    assert batch_from_arrow(batch_to_arrow(df))["s"].tolist() == ["x", None]


def test_docstring_examples_run():
    import doctest

    import bfnb.convert as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
