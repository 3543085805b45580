"""The executor: memo hits skip work, edits recompute only downstream, barriers see everything."""

from __future__ import annotations

from bfnb.op import FromList, MapField, Sort, While


class Counted:
    """A MapField function that counts its calls (its fingerprint is its class code and state)."""

    def __init__(self, name, step):
        self.name, self.step, self.calls = name, step, 0

    def __call__(self, n):
        self.calls += 1
        return n + self.step

    def __bfnb_fingerprint__(self):
        return f"counted:{self.name}:{self.step}"


def nums(*vals):
    return FromList([{"n": v} for v in vals])


def test_a_memo_hit_skips_the_work():
    f = Counted("f", 1)
    g = nums(1, 2, 3) | MapField(f, "n").tag("f")
    assert g.run()["n"].tolist() == [2, 3, 4]
    assert f.calls == 3
    again = nums(1, 2, 3) | MapField(f, "n").tag("f")
    assert again.run()["n"].tolist() == [2, 3, 4]
    assert f.calls == 3  # nothing recomputed
    assert {n.op_label: n.source for n in again.last_run.nodes}["f"] == "memo"


def test_a_changed_op_recomputes_itself_and_downstream_only():
    up, down = Counted("up", 1), Counted("down", 10)
    (nums(1, 2) | MapField(up, "n").tag("up") | MapField(down, "n").tag("down")).run()
    assert (up.calls, down.calls) == (2, 2)
    edited = Counted("edited", 100)  # the middle op changes
    g = nums(1, 2) | MapField(up, "n").tag("up") | MapField(edited, "n").tag("mid") | MapField(down, "n").tag("down")
    assert g.run()["n"].tolist() == [112, 113]
    assert up.calls == 2  # upstream reused
    assert edited.calls == 2 and down.calls == 4  # the edit and everything after it ran
    sources = {n.op_label: n.source for n in g.last_run.nodes}
    assert sources["mid"] == "run" and sources["down"] == "run"
    assert sources["up"] == "memo"


def test_a_sort_after_a_loop_sees_every_entry():
    # entries leave the loop at different rounds; the sort must still order all of them
    g = nums(1, 7, 5, 9, 2) | While(lambda n: n < 8, MapField(lambda n: n + 3, "n"), "n") | Sort("n")
    out = g.run()["n"].tolist()
    assert out == sorted(out)
    assert sorted(out) == [8, 8, 9, 10, 10]


def test_the_run_report_shows_rows_in_out_and_source_per_node():
    from bfnb.op import Filter

    g = nums(1, 2, 3, 4) | Filter(lambda n: n % 2 == 0, "n").tag("even") | Sort("n")
    g.run()
    rows = {n.op_label: (n.rows_in, n.rows_out, n.source) for n in g.last_run.nodes}
    assert rows["FromList"] == (0, 4, "run")
    assert rows["even"] == (4, 2, "run")
    assert rows["Sort"] == (2, 2, "run")
    g2 = nums(1, 2, 3, 4) | Filter(lambda n: n % 2 == 0, "n").tag("even") | Sort("n")
    g2.run()
    again = {n.op_label: n.source for n in g2.last_run.nodes}
    assert again["Sort"] == "memo"
    assert again["FromList"] == "not needed"
