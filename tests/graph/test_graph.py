"""Graphs are values: composition, wiring, tags, reprs, cycles."""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.op import CollectField, Filter, FromList, MapField, Replicate, Sort, TakeFirstN, ToList


def nums(*vals):
    return FromList([{"n": v} for v in vals])


def test_pipe_returns_new_graph_and_never_mutates_left():
    a = bf.Graph() | nums(1, 2, 3)
    b = a | MapField(lambda n: n * 10, "n")
    assert len(a) == 1 and len(b) == 2
    assert a.run()["n"].tolist() == [1, 2, 3]
    assert b.run()["n"].tolist() == [10, 20, 30]


def test_ior_outside_a_notebook_extends():
    g = bf.Graph()
    g |= nums(1, 2)
    g |= MapField(lambda n: n + 1, "n")
    assert g.run()["n"].tolist() == [2, 3]


def test_same_op_twice_is_two_nodes():
    inc = MapField(lambda n: n + 1, "n")
    g = nums(1) | inc | inc
    assert len(g) == 3
    assert g.run()["n"].tolist() == [3]


def test_tag_lookup_returns_that_nodes_result():
    g = nums(3, 1, 2) | MapField(lambda n: n * 2, "n").tag("doubled") | Filter(lambda n: n > 2, "n")
    assert sorted(g["doubled"]["n"].tolist()) == [2, 4, 6]
    assert sorted(g.run()["n"].tolist()) == [4, 6]


def test_unknown_and_duplicate_tags_are_clear_errors():
    g = nums(1) | MapField(lambda n: n, "n").tag("x") | MapField(lambda n: n, "n").tag("x")
    with pytest.raises(bf.GraphError, match="used by 2 ops"):
        g["x"]
    with pytest.raises(bf.GraphError, match="no op tagged 'nope'"):
        g["nope"]


def test_wire_adds_an_op_that_is_not_yet_in_the_graph():
    src = nums(1, 2)
    rep = Replicate(2)
    merge = CollectField("m")
    g = src | rep | merge
    side = MapField(lambda n: n * 100, "n", "m")
    g.wire(rep, side, 1, 0)  # side is new: it must be added, not dropped
    g.wire(side, merge, 0, 1)
    out = g.run()
    assert out["m"].tolist() == [100, 200]
    assert side in list(g)


def test_wire_by_tag_and_bad_ports():
    g = nums(1) | Replicate(2).tag("r") | CollectField("n").tag("c")
    g.wire("r", "c", 1, 1)
    assert g.run()["n"].tolist() == [1]
    with pytest.raises(bf.GraphError, match="port 5"):
        g.wire("r", "c", 5, 0)


def test_cycles_are_refused_with_advice():
    a = MapField(lambda n: n, "n")
    b = MapField(lambda n: n, "n")
    g = nums(1) | a | b
    g.wire(b, a)
    with pytest.raises(bf.GraphError, match="While or Repeat"):
        g.run()


def test_repr_lists_ops_readably():
    g = nums(1) | Sort("n") | TakeFirstN(2)
    text = repr(g)
    assert "Graph(3 ops)" in text
    assert "(A) FromList" in text and "-> B" in text and "(C) TakeFirstN(2)" in text


def test_execute_returns_tolist_output_and_runs_twice():
    out = ToList("n")
    g = nums(2, 1) | Sort("n") | out
    assert g.execute(dispatch_brokers=True) == [1, 2]
    assert g.execute(dispatch_brokers=True) == [1, 2]  # a second execute works (seed bug B4)
    assert out.get_output() == [1, 2]


def test_chaining_into_a_source_is_an_error():
    with pytest.raises(bf.GraphError, match="source"):
        nums(1) | nums(2)


def test_seed_inspection_helpers():
    sort = Sort("n").tag("s")
    src = nums(1)
    g = src | sort
    assert g.get_node_by_tag("s") is sort
    assert g.is_chain()
    g.wire(src, MapField(lambda n: n, "n"))  # a second consumer of the source: a branch, not a chain
    assert not g.is_chain()
