"""bf.Entry: the seed's row object; OutputEntries gives Entries and FromList takes them back."""

from __future__ import annotations

import copy
import pickle

import pytest

import bfnb as bf
from bfnb.op import FromList, MapField, OutputEntries, Repeat, SetField


def test_entry_has_the_seeds_fields_and_idx_is_immutable():
    e = bf.Entry("a1", 2, {"text": "hi"})
    assert (e.idx, e.rev, e.data, e.meta) == ("a1", 2, {"text": "hi"}, {})
    e.data["text"] = "hello"  # data is mutable, as in the seed
    e.rev += 1
    assert e.to_dict() == {"idx": "a1", "rev": 3, "text": "hello"}
    with pytest.raises(AttributeError, match="immutable"):
        e.idx = "b"
    with pytest.raises(TypeError, match="idx"):
        bf.Entry(3)
    assert bf.Entry.from_dict(e.to_dict()) == e
    assert bf.Entry.from_dict({"idx": "k", "rev": 1, "data": {"x": 1}}) == bf.Entry("k", 1, {"x": 1})
    assert pickle.loads(pickle.dumps(e)) == e and copy.deepcopy(e) == e
    assert "a1" in repr(e) and "hello" in repr(e)


def test_output_entries_are_entries_with_the_highest_rev():
    g = FromList([{"n": 2}, {"n": 3}]) | SetField("p", 1) | Repeat(MapField(lambda p, n: p * n, ["p", "n"], "p"), 2)
    g |= OutputEntries()
    out = g.execute()
    assert all(isinstance(e, bf.Entry) for e in out)
    by_n = {e.data["n"]: e for e in out}
    assert by_n[2].data["p"] == 4 and by_n[3].data["p"] == 9
    assert {e.rev for e in out} == {2}  # each pass of the loop body raised rev by one


def test_entries_go_back_into_fromlist_with_idx_rev_and_data():
    first = (FromList([{"t": "x"}, {"t": "y"}]) | OutputEntries()).execute()
    first[0].data["t"] = "changed"
    again = (FromList(first) | OutputEntries()).execute()
    assert [(e.idx, e.rev, e.data) for e in again] == [(e.idx, e.rev, e.data) for e in first]
    hand_made = [bf.Entry("k1", 4, {"t": "a"})]
    assert (FromList(hand_made) | OutputEntries()).execute() == hand_made
