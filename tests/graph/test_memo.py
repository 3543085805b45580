"""Fingerprints and the in-kernel memo: unchanged graphs recompute nothing; changes recompute."""

from __future__ import annotations

import bfnb as bf
from bfnb.graph.plan import plan
from bfnb.op import FromList, MapField, Sort


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self, n):
        self.calls += 1
        return n * 2


def double_noisy(n):
    print("computed", n)
    return n * 2


def test_rerun_of_unchanged_graph_recomputes_nothing(capsys):
    g = FromList([{"n": i} for i in range(5)]) | MapField(double_noisy, "n") | Sort("n", reverse=True)
    first = g.run()
    assert capsys.readouterr().out.count("computed") == 5
    again = g.run()
    assert capsys.readouterr().out.count("computed") == 0  # nothing recomputed
    assert again.equals(first)
    # a new graph built the same way has the same fingerprints and hits too
    g2 = FromList([{"n": i} for i in range(5)]) | MapField(double_noisy, "n") | Sort("n", reverse=True)
    g2.run()
    assert capsys.readouterr().out.count("computed") == 0


def test_captured_mutable_state_is_part_of_the_fingerprint():
    seen = []
    g = FromList([{"n": 1}]) | MapField(lambda n: seen.append(n) or n, "n")
    g.run()
    g2 = FromList([{"n": 1}]) | MapField(lambda n: seen.append(n) or n, "n")
    g2.run()
    assert seen == [1, 1]  # the captured list changed, so the second graph is a different computation


def test_fingerprint_changes_with_code_captured_values_and_inputs():
    def build(k, data):
        return FromList(data) | MapField(lambda n: n + k, "n")

    base = plan(build(1, [{"n": 1}])).graph_fingerprint
    assert plan(build(1, [{"n": 1}])).graph_fingerprint == base
    assert plan(build(2, [{"n": 1}])).graph_fingerprint != base  # captured value
    assert plan(build(1, [{"n": 2}])).graph_fingerprint != base  # input data
    g = FromList([{"n": 1}]) | MapField(lambda n: n * 1, "n")
    assert plan(g).graph_fingerprint != base  # code


def test_editing_a_downstream_op_reuses_upstream(capsys):
    up = FromList([{"n": i} for i in range(3)]) | MapField(double_noisy, "n").tag("up")
    (up | MapField(lambda n: n + 1, "n")).run()
    assert capsys.readouterr().out.count("computed") == 3
    out = (up | MapField(lambda n: n // 2 + 2, "n")).run()
    assert capsys.readouterr().out.count("computed") == 0  # the tagged upstream came from the memo
    assert out["n"].tolist() == [2, 3, 4]


def test_source_file_change_invalidates(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": "a", "n": 1}\n', encoding="utf-8")
    from bfnb.op import ReadJsonl

    g = bf.Graph() | ReadJsonl(str(p), idx_key="id")
    assert g.run()["n"].tolist() == [1]
    p.write_text('{"id": "a", "n": 2}\n{"id": "b", "n": 3}\n', encoding="utf-8")
    g2 = bf.Graph() | ReadJsonl(str(p), idx_key="id")
    assert g2.run()["n"].tolist() == [2, 3]
