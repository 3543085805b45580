"""Field ops: MapField, Apply, SetField, RemoveField, RenameField, through real graphs."""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.op import (
    Apply,
    FromList,
    MapField,
    RemoveField,
    RenameField,
    SetField,
    ToList,
)


def src():
    return FromList([{"idx": "a", "text": " Hello ", "n": 1}, {"idx": "b", "text": "World", "n": 2}])


def test_mapfield_in_place_and_to_another_field():
    assert (src() | MapField(lambda t: t.strip().lower(), "text") | ToList("text")).execute() == ["hello", "world"]
    out = (src() | MapField(lambda t: len(t), "text", "length") | ToList("text", "length")).execute()
    assert out == [{"text": " Hello ", "length": 7}, {"text": "World", "length": 5}]


def test_mapfield_several_inputs_to_one_output_seed_readme_form():
    g = FromList([{"headings": ["A"], "keyword": "k"}]) | MapField(
        lambda headings, keyword: [*headings, keyword], ["headings", "keyword"], "headings"
    )
    assert (g | ToList("headings")).execute() == [["A", "k"]]


def test_mapfield_mapping_form_and_none_result():
    out = (src() | MapField(lambda n: None if n == 1 else n, {"n": "m"}) | ToList("m")).execute()
    assert out == [None, 2]  # one output field stores any value, None included


def test_mapfield_n_outputs_take_a_tuple_or_a_list():
    g = src() | MapField(lambda t, n: (t.strip(), n * 2), ["text", "n"], ["a", "b"])
    assert (g | ToList("a", "b")).execute() == [{"a": "Hello", "b": 2}, {"a": "World", "b": 4}]
    g2 = src() | MapField(lambda n: [n, -n], "n", ["p", "q"])
    assert (g2 | ToList("q")).execute() == [-1, -2]


def test_mapfield_wrong_shape_names_op_idx_and_fields():
    g = src() | MapField(lambda n: n, "n", ["p", "q"])
    with pytest.raises(bf.UserFunctionError) as e:
        g.run()
    assert e.value.idx == "a" and e.value.field == ["p", "q"] and "must return 2 values" in str(e.value)


def test_mapfield_does_not_change_its_input_batch():
    base = src()
    first = base.to_graph().run()
    (base | MapField(lambda t: t.upper(), "text")).run()
    assert first["text"].tolist() == [" Hello ", "World"]


def test_apply_mutates_in_place_or_returns_a_dict():
    def mutate(d):
        d["text"] = d["text"].strip()
        d["extra"] = d["n"] * 10
        del d["n"]

    out = (src() | Apply(mutate) | ToList()).execute()
    assert out == [{"text": "Hello", "extra": 10}, {"text": "World", "extra": 20}]
    out2 = (src() | Apply(lambda d: {"only": d["n"]}) | ToList()).execute()
    assert out2 == [{"only": 1}, {"only": 2}]


def test_apply_keeps_idx_and_rev_and_never_reaches_upstream_containers():
    shared = FromList([{"idx": "x", "rev": 3, "l": [1]}])
    before = shared.to_graph().run()
    after = (shared | Apply(lambda d: d["l"].append(2))).run()
    assert after.index.tolist() == ["x"] and after["rev"].tolist() == [3]
    assert after["l"].iloc[0] == [1, 2] and before["l"].iloc[0] == [1]


def test_apply_field_kept_by_some_entries_is_none_elsewhere():
    out = (src() | Apply(lambda d: d.update(flag=True) if d["n"] == 2 else None) | ToList("flag")).execute()
    assert out == [None, True]


def test_apply_wrong_return_type_is_an_error():
    with pytest.raises(bf.UserFunctionError, match="return a dict"):
        (src() | Apply(lambda d: 5)).run()


def test_setfield_forms_and_list_values_per_entry():
    out = (
        src()
        | SetField("k", 1, "s", "x")
        | SetField({"l": [1, 2]})
        | SetField(["z"], [None])
        | ToList("k", "s", "l", "z")
    ).execute()
    assert out == [{"k": 1, "s": "x", "l": [1, 2], "z": None}] * 2


def test_setfield_rejects_bad_arguments_and_reserved_names():
    with pytest.raises(TypeError):
        SetField("a", 1, "b")
    with pytest.raises(ValueError):
        SetField("idx", "x")


def test_removefield_ignores_absent_fields():
    out = (src() | RemoveField("n", "missing") | ToList()).execute()
    assert out == [{"text": " Hello "}, {"text": "World"}]
    assert (src() | RemoveField(["n", "text"]) | ToList()).execute() == [{}, {}]


def test_renamefield_forms_copy_and_swap():
    assert (src() | RenameField("n", "m") | ToList()).execute()[0] == {"text": " Hello ", "m": 1}
    assert (src() | RenameField({"n": "m"}, copy=True) | ToList()).execute()[0] == {"text": " Hello ", "n": 1, "m": 1}
    swapped = (src() | RenameField({"n": "text", "text": "n"}) | ToList()).execute()[0]
    assert swapped == {"text": 1, "n": " Hello "}


def test_renamefield_missing_source_names_the_field():
    with pytest.raises(bf.MissingFieldError) as e:
        (src() | RenameField("nope", "x")).run()
    assert e.value.field == "nope" and "RenameField" in str(e.value)
