"""Odd data in sources: read exactly or refused clearly, by the same rule in every source."""

from __future__ import annotations

import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bfnb as bf
from bfnb.op import FromList, OutputEntries, ReadJsonl, ReadParquet, WriteJsonl


def entries(source):
    return [e.to_dict() for e in (bf.Graph() | source | OutputEntries()).execute()]


def test_integers_beyond_64_bits_in_jsonl_are_read_exactly_and_round_trip(tmp_path):
    big = 123456789012345678901234567890
    src = tmp_path / "big.jsonl"
    src.write_text(f'{{"a": {big}}}\n{{"a": 1}}\n{{"a": -{big}}}\n')
    out = entries(ReadJsonl(src))
    assert [e["a"] for e in out] == [big, 1, -big] and all(type(e["a"]) is int for e in out)
    # a record's idx does not depend on its neighbours: {"a": 1} hashes alike with or without a big int near it
    (tmp_path / "small.jsonl").write_text('{"a": 1}\n')
    assert entries(ReadJsonl(tmp_path / "small.jsonl"))[0]["idx"] == out[1]["idx"]
    (bf.Graph() | ReadJsonl(src) | WriteJsonl(tmp_path / "copy.jsonl")).run()
    assert [e["a"] for e in entries(ReadJsonl(tmp_path / "copy.jsonl"))] == [big, 1, -big]
    assert entries(FromList([{"a": big}]))[0]["a"] == big  # the same rule in FromList


@pytest.mark.parametrize("bad", ["null", "[1, 2]", "1.5", "true", '""', '{"x": 1}'])
def test_an_unusable_idx_in_jsonl_is_refused_naming_the_line(tmp_path, bad):
    src = tmp_path / "idx.jsonl"
    src.write_text(f'{{"idx": "a", "v": 1}}\n{{"idx": {bad}, "v": 2}}\n')
    with pytest.raises(bf.SourceError) as e:
        entries(ReadJsonl(src))
    assert e.value.field == "idx" and f"{src}:2" in str(e.value) and "ReadJsonl" in str(e.value)
    src.write_text('{"idx": "a", "v": 1}\n{"idx": 7, "v": 2}\n{"v": 3}\n')  # the fix: a string, an int, or none
    out = entries(ReadJsonl(src))
    assert [e["idx"] for e in out][:2] == ["a", "7"] and len(out) == 3


@pytest.mark.parametrize("bad", [None, [1, 2], 1.5, True, ""])
def test_fromlist_follows_the_same_idx_rule(bad):
    with pytest.raises(bf.SourceError) as e:
        entries(FromList([{"idx": "a", "v": 1}, {"idx": bad, "v": 2}]))
    assert e.value.field == "idx" and "list position 1" in str(e.value)
    assert [e["idx"] for e in entries(FromList([{"idx": "a"}, {"idx": 7}]))] == ["a", "7"]


def test_parquet_own_idx_follows_the_same_rule(tmp_path):
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"idx": pa.array([1, None], pa.int64()), "v": [1, 2]}), path)
    with pytest.raises(bf.SourceError) as e:
        entries(ReadParquet(path))
    assert e.value.field == "idx" and "row 2" in str(e.value) and "null" in str(e.value)
    pq.write_table(pa.table({"idx": pa.array([1, 2], pa.int64()), "v": [1, 2]}), path)
    assert [e["idx"] for e in entries(ReadParquet(path))] == ["1", "2"]  # integers become their text, as in JSONL


def test_a_decimal_parquet_column_is_refused_naming_column_and_fix(tmp_path):
    path = tmp_path / "prices.parquet"
    prices = pa.array([decimal.Decimal("19.99"), decimal.Decimal("0.10")], pa.decimal128(10, 2))
    pq.write_table(pa.table({"item": ["a", "b"], "price": prices}), path)
    with pytest.raises(bf.SourceError) as e:
        entries(ReadParquet(path))
    assert e.value.field == "price" and "decimal128(10, 2)" in str(e.value) and "cast it to string" in str(e.value)
    pq.write_table(pa.table({"item": ["a", "b"], "price": prices.cast(pa.string())}), path)  # the fix it names
    assert [e["price"] for e in entries(ReadParquet(path))] == ["19.99", "0.10"]
