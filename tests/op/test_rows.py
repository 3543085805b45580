"""Row ops: filters and batch-wide ops (Shuffle, Sort, TakeFirstN, SampleProportion, SortMarkdownEntries)."""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.op import (
    ExcludeIdx,
    Filter,
    FilterFailedEntries,
    FilterMissingFields,
    FromList,
    IncludeIdx,
    SampleProportion,
    SamplePropotion,
    Shuffle,
    Sort,
    SortMarkdownEntries,
    TakeFirstN,
    ToList,
)


def nums(n=10):
    return FromList([{"idx": f"e{i}", "n": i} for i in range(n)])


def test_filter_dict_form_keyed_form_and_truthiness():
    assert (nums(6) | Filter(lambda d: d["n"] % 2 == 0) | ToList("n")).execute() == [0, 2, 4]
    assert (nums(6) | Filter(lambda n: n > 3, "n") | ToList("n")).execute() == [4, 5]
    assert (nums(4) | Filter(lambda n: n % 3, "n") | ToList("n")).execute() == [1, 2]  # ints: truthiness
    assert (nums(3) | Filter(lambda n: "x" * n, "n", consume_rejected=True) | ToList("n")).execute() == [1, 2]


def test_filter_failed_entries_and_custom_status_key():
    recs = [{"idx": "a", "status": "failed"}, {"idx": "b", "status": "done"}, {"idx": "c", "status": None}]
    assert (FromList(recs) | FilterFailedEntries() | ToList("status")).execute() == ["done", None]
    other = [{"idx": "a", "st": "failed"}, {"idx": "b", "st": "ok"}]
    assert (FromList(other) | FilterFailedEntries(status_key="st") | ToList("st")).execute() == ["ok"]
    assert len((nums(3) | FilterFailedEntries()).run()) == 3  # no status field: nothing failed


def test_filter_missing_fields_with_and_without_none():
    recs = [{"idx": "a", "x": 1}, {"idx": "b", "x": None}, {"idx": "c"}]
    g = FromList(recs)
    # a field absent from some records is None there (a batch has one column per field)
    assert (g | FilterMissingFields("x") | ToList("x")).execute() == [1, None, None]
    assert (g | FilterMissingFields("x", allow_None=False) | ToList("x")).execute() == [1]
    assert len((g | FilterMissingFields("x", "nope")).run()) == 0


def test_include_and_exclude_idx():
    assert (nums(5) | IncludeIdx({"e1", "e3", "zz"}) | ToList("n")).execute() == [1, 3]
    assert (nums(5) | ExcludeIdx(["e1", "e3"]) | ToList("n")).execute() == [0, 2, 4]


def test_shuffle_is_deterministic_for_a_seed():
    a = (nums(50) | Shuffle(seed=1) | ToList("n")).execute()
    b = (nums(50) | Shuffle(seed=1) | ToList("n")).execute()
    c = (nums(50) | Shuffle(seed=2) | ToList("n")).execute()
    assert a == b != c and sorted(a) == list(range(50)) and a != list(range(50))


def test_shuffle_without_seed_is_stable_per_op_and_differs_between_ops():
    op = Shuffle()
    g = nums(50) | op | ToList("n")
    assert g.execute() == g.execute()
    assert (nums(50) | Shuffle() | ToList("n")).execute() != g.execute()


def test_sort_multi_key_reverse_stable_and_none_last():
    recs = [
        {"idx": "a", "g": 2, "s": "x"},
        {"idx": "b", "g": None, "s": "y"},
        {"idx": "c", "g": 1, "s": "z"},
        {"idx": "d", "g": 2, "s": "w"},
        {"idx": "e", "g": 1, "s": "z"},
    ]
    assert (FromList(recs) | Sort("g") | ToList("s")).execute() == ["z", "z", "x", "w", "y"]
    assert (FromList(recs) | Sort("g", reverse=True) | ToList("s")).execute() == ["x", "w", "z", "z", "y"]
    order = (FromList(recs) | Sort("g", "s") | ToList("s")).execute()
    assert order == ["z", "z", "w", "x", "y"]
    assert (FromList(recs) | Sort("g", "s") | ToList("s")).run().index.tolist()[:2] == ["c", "e"]  # stable


def test_sort_lists_and_custom_func():
    recs = [{"idx": "a", "l": [2, 1]}, {"idx": "b", "l": [1, 5]}, {"idx": "c", "l": None}]
    assert (FromList(recs) | Sort("l") | ToList("l")).execute() == [[1, 5], [2, 1], None]
    by_len = Sort(custom_func=lambda d: -len(d["l"] or []))
    assert (FromList(recs) | by_len | ToList("l")).execute()[0] == [2, 1]
    keyed = Sort("l", custom_func=lambda xs: (xs or [0])[-1], reverse=True)
    assert (FromList(recs) | keyed | ToList("l")).execute() == [[1, 5], [2, 1], None]


def test_sort_values_that_cannot_be_compared_raise_naming_the_field():
    recs = [{"idx": "a", "v": 1}, {"idx": "b", "v": "x"}]
    with pytest.raises(bf.OpError) as e:
        (FromList(recs) | Sort("v")).run()
    assert "cannot sort" in str(e.value) and "Sort" in str(e.value)


def test_take_first_n_with_offset():
    assert (nums(10) | TakeFirstN(3) | ToList("n")).execute() == [0, 1, 2]
    assert (nums(10) | TakeFirstN(3, offset=8, barrier_level=2) | ToList("n")).execute() == [8, 9]


def test_sample_proportion_is_per_idx_and_deterministic():
    small = set((nums(200) | SampleProportion(0.5, seed=7) | ToList("n")).execute())
    big = set((nums(400) | SampleProportion(0.5, seed=7) | ToList("n")).execute())
    assert small == {n for n in big if n < 200}  # an entry keeps its draw when the batch grows
    assert 60 < len(small) < 140
    assert (nums(50) | SampleProportion(0.0, seed=1) | ToList("n")).execute() == []
    assert len((nums(50) | SamplePropotion(1.0, seed=1)).run()) == 50
    other = set((nums(200) | SampleProportion(0.5, seed=8) | ToList("n")).execute())
    assert other != small


def test_sort_markdown_entries_is_numeric_aware():
    recs = [
        {"idx": "a", "headings": ["Chapter 10"], "keyword": "x"},
        {"idx": "b", "headings": ["Chapter 2", "Part 3"], "keyword": "b"},
        {"idx": "c", "headings": ["Chapter 2", "Part 3"], "keyword": "a"},
        {"idx": "d", "headings": ["Chapter 2"], "keyword": "z"},
    ]
    plain = (FromList(recs) | SortMarkdownEntries() | ToList("keyword")).execute()
    assert plain == ["z", "b", "a", "x"]  # stable within one heading path
    keyed = (FromList(recs) | SortMarkdownEntries(keyword_key="keyword") | ToList("keyword")).execute()
    assert keyed == ["z", "a", "b", "x"]


def test_ops_declare_their_kind():
    assert Filter(bool).kind == "filter" and Sort("a").kind == "batch" and Shuffle(seed=1).kind == "batch"
    assert IncludeIdx([]).kind == "filter" and TakeFirstN(1).kind == "batch"
