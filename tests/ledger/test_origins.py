"""The origins log (which entry asked for which key, run after run) and request diffs."""

from __future__ import annotations

import pytest

from bfnb.errors import LedgerWarning
from bfnb.ledger import Ledger, Origins, diff_requests
from bfnb.ledger.origins import ORIGINS_FILE


def test_previous_keys_are_the_keys_before_a_run(tmp_path):
    o = Origins(tmp_path)
    o.record_origins("poems", "run1", ["a", "b", "c"], ["k1", "k2", "k3"])
    o.record_origins("poems", "run2", ["a", "b", "c"], ["k1", "K2", "k3"])  # b's prompt edited
    o.record_origins("other", "run2", ["a"], ["x9"])
    o.record_origins("poems", "run3", ["a", "b", "c"], ["k1", "k2", "k3"])  # the edit reverted

    assert o.previous_keys("poems", ["a", "b", "c"], before_run="run2") == {"a": "k1", "b": "k2", "c": "k3"}
    assert o.previous_keys("poems", ["b"], before_run="run3") == {"b": "K2"}
    assert o.previous_keys("poems", ["b", "zz"]) == {"b": "k2"}  # latest; never-seen idxs left out
    assert o.previous_keys("poems", ["a"], before_run="run1") == {}
    assert o.previous_keys("other", ["a"]) == {"a": "x9"} and o.previous_keys("nope", ["a"]) == {}
    o.close()

    reopened = Origins(tmp_path)  # the log is on disk
    assert reopened.previous_keys("poems", ["b"], before_run="run3") == {"b": "K2"}
    reopened.close()


def test_unchanged_entries_are_not_written_again(tmp_path):
    o = Origins(tmp_path)
    idxs, keys = [f"e{i}" for i in range(1000)], [f"k{i}" for i in range(1000)]
    assert o.record_origins("poems", "run1", idxs, keys) == 1000
    size = (tmp_path / ORIGINS_FILE).stat().st_size
    assert o.record_origins("poems", "run2", idxs, keys) == 0
    assert o.record_origins("poems", "run2", idxs[:10], keys[:10]) == 0  # a second chunk of run2
    grown = (tmp_path / ORIGINS_FILE).stat().st_size - size
    assert 0 < grown < 200  # one short marker line for run2
    assert o.record_origins("poems", "run3", idxs[:1], ["new"]) == 1
    assert o.previous_keys("poems", ["e0", "e1"], before_run="run3") == {"e0": "k0", "e1": "k1"}
    o.close()


def test_two_writers_see_each_other(tmp_path):
    with Ledger(tmp_path) as one, Ledger(tmp_path) as two:
        one.origins.record_origins("poems", "r1", ["a"], ["k1"])
        two.origins.record_origins("poems", "r2", ["a", "b"], ["k2", "k3"])
        one.origins.record_origins("poems", "r3", ["b"], ["k4"])
        assert one.origins.previous_keys("poems", ["a", "b"], before_run="r3") == {"a": "k2", "b": "k3"}
        assert two.origins.previous_keys("poems", ["a", "b"]) == {"a": "k2", "b": "k4"}


def test_a_torn_origins_line_is_skipped(tmp_path):
    o = Origins(tmp_path)
    o.record_origins("poems", "r1", ["a"], ["k1"])
    o.close()
    with open(tmp_path / ORIGINS_FILE, "ab") as f:
        f.write(b'{"op":"poems","run":"r2","idx":["a"],"ke')
    o = Origins(tmp_path)
    assert o.previous_keys("poems", ["a"]) == {"a": "k1"}
    with pytest.warns(LedgerWarning, match=r"origins.jsonl cut off .*explain"):
        o.record_origins("poems", "r3", ["a"], ["k3"])
    o.close()
    assert Origins(tmp_path).previous_keys("poems", ["a"], before_run="r3") == {"a": "k1"}


CHAT = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a poet."},
        {"role": "user", "content": "Write about Zeus."},
    ],
    "temperature": 0.7,
}


def edited(**changes):
    req = {**CHAT, "messages": [dict(m) for m in CHAT["messages"]]}
    for k, v in changes.items():
        if v is None:
            req.pop(k)
        else:
            req[k] = v
    return req


def test_diff_requests_names_what_changed_in_user_words():
    assert diff_requests(CHAT, edited()) == []
    user = edited()
    user["messages"][1]["content"] = "Write about Hera."
    assert diff_requests(CHAT, user) == ["prompt text"]
    system = edited()
    system["messages"][0]["content"] = "You are a critic."
    assert diff_requests(CHAT, system) == ["system prompt"]
    assert diff_requests(CHAT, edited(model="gpt-4o")) == ["model"]
    assert diff_requests(CHAT, edited(temperature=0.2)) == ["parameter temperature"]
    assert diff_requests(CHAT, edited(temperature=None, seed=3)) == ["parameter seed", "parameter temperature"]
    schema = {"type": "json_schema", "json_schema": {"name": "Poem", "schema": {"type": "object"}}}
    assert diff_requests(CHAT, edited(response_format=schema, model="o3")) == ["model", "response schema"]
    longer = edited()
    longer["messages"] += [{"role": "assistant", "content": "..."}, {"role": "user", "content": "More."}]
    assert diff_requests(CHAT, longer) == ["conversation history"]
    assert diff_requests({"model": "e", "input": "cat"}, {"model": "e", "input": "dog"}) == ["input text"]
    assert diff_requests(CHAT, edited(api_key="sk-1")) == []  # secrets are never part of a request
