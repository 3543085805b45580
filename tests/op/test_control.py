"""If, While, Repeat, Replicate, CollectField, and real barriers after branches and loops."""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.op import (
    CheckPoint,
    CollectField,
    FromList,
    If,
    MapField,
    Repeat,
    Replicate,
    Sort,
    TakeFirstN,
    ToList,
    While,
    WriteJsonl,
)


def nums(*vals, key="n"):
    return FromList([{key: v} for v in vals])


def test_if_routes_each_entry_through_one_branch():
    g = nums(1, 5, 2, 8) | If(lambda d: d["n"] < 4, MapField(lambda n: -n, "n"), MapField(lambda n: n * 10, "n"))
    assert sorted(g.run()["n"].tolist()) == [-2, -1, 50, 80]


def test_if_keyed_and_without_false_chain():
    g = nums(1, 5) | If(lambda n: n > 2, MapField(lambda n: 0, "n"), keys="n")
    assert sorted(g.run()["n"].tolist()) == [0, 1]


def test_barrier_after_if_with_checkpoint_sees_everything():
    # batchfactory 0.6.2 gave [4, 5, 1, 2] here (weak barriers); the sort must see all entries
    g = nums(3, 5, 4, 2, 1, 6) | If(lambda d: d["n"] < 4, CheckPoint()) | Sort("n") | TakeFirstN(2)
    assert g.run()["n"].tolist() == [1, 2]


def test_repeat_rounds_run_1_to_n_inside_the_body_and_bump_rev():
    out = ToList("prod", "rounds")
    body = MapField(lambda p, r: p * r, ["prod", "rounds"], "prod")
    g = FromList([{"prod": 1, "n": 5}, {"prod": 1, "n": 1}]) | Repeat(body, max_rounds_key="n") | out
    res = g.run()
    assert sorted(res["prod"].tolist()) == [1, 120]  # n! computed with rounds 1..n
    assert sorted(res["rev"].tolist()) == [1, 5]


def test_repeat_initial_value_none_requires_the_field():
    g = nums(1) | Repeat(MapField(lambda n: n, "n"), 2, initial_value=None)
    with pytest.raises(bf.MissingFieldError) as e:
        g.run()
    assert e.value.field == "rounds"


def test_while_keyed_and_entries_leave_at_different_rounds_then_sort():
    g = nums(1, 7, 5, 9) | While(lambda n: n < 8, MapField(lambda n: n + 3, "n"), "n") | Sort("n")
    out = g.run()
    assert out["n"].tolist() == [8, 9, 10, 10]
    # 5 left after 1 round, 9 never entered, 7 after 1 round, 1 after 3 rounds: rev counts passes
    assert out["rev"].tolist()[:2] == [1, 0]
    assert sorted(out["rev"].tolist()[2:]) == [1, 3]


def test_writer_after_a_loop_writes_every_entry_once(tmp_path):
    path = tmp_path / "out.jsonl"
    g = (
        nums(1, 2, 3)
        | While(lambda n: n < 3, CheckPoint() | MapField(lambda n: n + 1, "n"), "n")
        | WriteJsonl(str(path))
    )
    g.run()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3  # batchfactory kept only the last entry to leave the loop


def test_loop_limit_is_a_clear_error_not_a_silent_partial_result():
    g = nums(1) | While(lambda n: True, MapField(lambda n: n, "n"), "n", max_iterations=50)
    with pytest.raises(bf.LoopLimitError, match="max_iterations=50") as e:
        g.run()
    assert e.value.idx is not None


def test_replicate_and_collect_field():
    g = nums(1, 2) | Replicate(2).tag("r") | CollectField("double").tag("c")
    side = MapField(lambda n: n * 2, "n", "double")
    g.wire("r", side, 1, 0)
    g.wire(side, "c", 0, 1)
    out = g.run()
    assert out["double"].tolist() == [2, 4]
    assert out["replica_idx"].tolist() == [0, 0]


def test_checkpoint_resumes_in_a_new_process_without_running_upstream(tmp_path):
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys, bfnb as bf
        from bfnb.op import FromList, MapField, CheckPoint
        def noisy(n):
            print("computed", n)
            return n + 1
        with bf.ProjectFolder("cp", 1, 0, 0) as p:
            g = FromList([{"n": 1}, {"n": 2}]) | MapField(noisy, "n") | CheckPoint()
        print(g.run()["n"].tolist())
        """
    )
    env = {**__import__("os").environ, "BFNB_DATA_DIR": str(tmp_path / "data")}
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    second = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert first.stdout.count("computed") == 2
    assert second.stdout.count("computed") == 0  # resumed from the checkpoint
    assert second.stdout.strip().splitlines()[-1] == "[2, 3]"
