"""ExplodeList, SpawnFromList, CollectAllToList, ListParallel (empty lists, filtered children, loops)."""

from __future__ import annotations

import bfnb as bf
from bfnb.op import (
    CollectAllToList,
    ExplodeList,
    Filter,
    FromList,
    ListParallel,
    MapField,
    Repeat,
    SetField,
    SpawnFromList,
)


def test_explode_list_zips_lists_broadcasts_scalars_and_derives_idx():
    g = FromList([{"k": "a", "langs": ["en", "zh"], "tag": "x"}]) | ExplodeList(["langs", "tag"], ["lang", "t"])
    out = g.run()
    assert out["lang"].tolist() == ["en", "zh"]
    assert out["t"].tolist() == ["x", "x"]
    parent = out["master_idx"].iloc[0]
    assert out.index.tolist() == [f"{parent}.0", f"{parent}.1"]
    assert out["list_idx"].tolist() == [0, 1]
    assert out["k"].tolist() == ["a", "a"]


def test_list_parallel_sum_of_squares_and_empty_list():
    g = FromList([{"xs": [1, 2, 3]}, {"xs": []}, {"xs": [4]}]) | ListParallel(MapField(lambda x: x * x, "xs"), "xs")
    out = g.run()
    assert out["xs"].tolist() == [[1, 4, 9], [], [16]]
    assert "spawn_idx_list" not in out.columns


def test_list_parallel_body_filtering_children_leaves_them_out():
    body = Filter(lambda x: x % 2 == 0, "x")
    g = FromList([{"xs": [1, 2, 3, 4]}]) | ListParallel(body, "xs", "x")
    assert g.run()["xs"].tolist() == [[2, 4]]


def test_list_parallel_inside_a_loop_with_repeating_items_does_not_hang():
    body = MapField(lambda x: x, "xs")
    g = FromList([{"xs": [1, 2]}]) | Repeat(ListParallel(body, "xs"), 3)
    out = g.run()
    assert out["xs"].tolist() == [[1, 2]]
    assert out["rounds"].tolist() == [3]


def test_seed_style_list_parallel_with_four_keys():
    body = MapField(lambda t: len(t), "text", "labels")
    g = FromList([{"segs": ["ab", "cde"]}]) | ListParallel(body, "segs", "text", "labels", "labels")
    assert g.run()["labels"].tolist() == [[2, 3]]


def test_spawn_and_collect_wired_by_hand():
    spawn = SpawnFromList("xs", "x")
    collect = CollectAllToList("y", "ys")
    g = FromList([{"xs": [1, 2]}]) | spawn | SetField("done", True) | collect
    body = MapField(lambda x: x + 1, "x", "y")
    g.wire(spawn, body, 1, 0)
    g.wire(body, collect, 0, 1)
    out = g.run()
    assert out["ys"].tolist() == [[2, 3]]
    assert out["done"].tolist() == [True]


def test_non_list_field_is_a_clear_error():
    g = FromList([{"xs": 5}]) | ExplodeList("xs", "x")
    try:
        g.run()
    except bf.OpError as e:
        assert e.field == "xs" and "list" in str(e)
    else:
        raise AssertionError("expected an error")
