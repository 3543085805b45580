"""What only the Ray engine must show: the extra, unsupported ops, errors from workers, writers."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bfnb as bf
from bfnb.op import AskHuman, FromList, MapField, Repeat, WriteJsonl

pytest.importorskip("ray")


def test_without_the_extra_the_error_says_what_to_install():
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import bfnb as bf\nfrom bfnb.op import FromList\n"
        "try:\n    FromList([{'a': 1}]).to_graph().run(engine='ray')\n"
        "except bf.EngineError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "bfnb[ray]"' in out


def test_an_op_ray_cannot_run_fails_before_anything_starts(ray_session, tmp_path):
    out = tmp_path / "out.jsonl"
    g = FromList([{"q": "x"}]) | WriteJsonl(out) | AskHuman("Is {q} good?").tag("review")
    with pytest.raises(bf.EngineError, match="'ray' engine cannot run review; nothing was started"):
        g.run(engine="ray")
    assert not out.exists()  # the writer before it did not run either
    loop = FromList([{"q": "x"}]) | Repeat(AskHuman("Again {q}?"), 2)
    with pytest.raises(bf.EngineError, match="AskHuman"):  # inside a loop body too
        loop.run(engine="ray")


def test_a_worker_error_names_op_idx_and_field(ray_session):
    def boom(n):
        if n == 7:
            raise ValueError("seven")
        return n

    g = FromList([{"n": i} for i in range(20)]) | MapField(boom, "n").tag("boom")
    with pytest.raises(bf.UserFunctionError) as e:
        g.run(engine="ray")
    assert e.value.field == "n" and e.value.idx is not None and "boom" in str(e.value)


def test_a_failing_worker_publishes_no_file(ray_session, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"previous\n")
    g = FromList([{"n": i} for i in range(30)]) | MapField(lambda n: 1 // (n - 25), "n") | WriteJsonl(out)
    with pytest.raises(bf.UserFunctionError):
        g.run(engine="ray")
    assert out.read_bytes() == b"previous\n"
