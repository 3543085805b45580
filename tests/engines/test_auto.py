"""``auto`` streams a chain whenever every op of it streams, and the user sees what ``local`` gives.

Each case runs the graph with ``auto`` (no engine named), checks ``explain()`` names ``stream``,
then runs it on ``local`` and compares: ``DataFrame.equals`` after ``sort_index``, dtypes included,
plus what a user reads besides the rows (paid calls, memo per node, the op chain, versions).
"""

from __future__ import annotations

import orjson
import pytest

import bfnb as bf
from bfnb.engines import get_engine
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, MapField, ReadJsonl, Repeat, Sort, TakeFirstN, WriteJsonl

N = 30


@pytest.fixture(autouse=True)
def small_chunks():
    eng = get_engine("stream")
    old, eng.chunk_rows = eng.chunk_rows, 7  # a few dozen entries cross several chunk boundaries
    yield
    eng.chunk_rows = old


@pytest.fixture
def records_file(tmp_path):
    path = tmp_path / "in.jsonl"
    with path.open("wb") as f:
        for i in range(N):
            f.write(orjson.dumps({"id": i, "text": f"line {(i * 7) % N}"}) + b"\n")
    return path


def auto_equals_local(g):
    memo.clear()
    got = g.run()
    assert g.last_run.engine == "stream", g.last_run.engine_reason
    assert g.explain().attrs["engine"] == "stream"
    auto_chain = [(n.label, n.rows_in, n.rows_out) for n in g.last_run.nodes]
    memo.clear()
    want = g.run(engine="local")
    got, want = got.sort_index(), want.sort_index()
    assert list(got.columns) == list(want.columns)
    assert got.dtypes.to_dict() == want.dtypes.to_dict()
    assert got.equals(want)
    assert auto_chain == [(n.label, n.rows_in, n.rows_out) for n in g.last_run.nodes]  # the op chain
    return got


def test_auto_streams_ask_llm_over_real_http_and_equals_local(server, records_file, tmp_path):
    with bf.ProjectFolder("auto", 1, 0, 0):
        g = (
            ReadJsonl(records_file)
            | AskLLM("Say something about {text}.", model="gpt-4o-mini@openai")
            | MapField(str.upper, "text")
        )
    got = auto_equals_local(g)
    sent = server.stats()["answered"]
    assert sent == N and (got["status"] == "done").all()  # the local run was served by the ledger

    def seen():
        return [
            (n.label, n.cached, n.rows_in, n.rows_out, n.calls_sent, n.calls_cached, n.cost_usd)
            for n in g.last_run.nodes
        ]

    memo.clear()
    g.run()  # a re-run: served as the whole-batch engine serves it (checkpoint, calls, spend)
    assert g.last_run.engine == "stream"
    on_auto = seen()
    memo.clear()
    g.run(engine="local")
    assert on_auto == seen()
    assert server.stats()["answered"] == sent

    # an edit downstream: the AskLLM node's result comes from the memo, on both engines
    h = ReadJsonl(records_file) | g.nodes[1].op | MapField(str.lower, "text")
    chains = {}
    for engine in ("auto", "local"):
        memo.clear()
        g.run(engine=engine)
        h.run(engine=engine)
        chains[engine] = [(n.label, n.cached, n.rows_in, n.rows_out) for n in h.last_run.nodes]
        assert h.last_run.engine == ("stream" if engine == "auto" else "local")
    assert chains["auto"] == chains["local"]
    assert [c[1] for c in chains["auto"]] == ["not needed", "memo", False]


def test_auto_streams_sort_and_equals_local(records_file, tmp_path):
    out = tmp_path / "sorted.jsonl"
    got = auto_equals_local(
        ReadJsonl(records_file) | Sort("text", reverse=True) | MapField(str.upper, "text") | WriteJsonl(out)
    )
    assert len(got) == N and got["text"].tolist() != sorted(got["text"], reverse=True)  # sort_index undid the order
    streamed = out.read_bytes()
    memo.clear()
    (ReadJsonl(records_file) | Sort("text", reverse=True) | MapField(str.upper, "text") | WriteJsonl(out)).run(
        engine="local"
    )
    assert out.read_bytes() == streamed  # the same file, in the same order


def test_a_tagged_ask_llm_keeps_its_versions_on_auto(server, records_file):
    with bf.ProjectFolder("auto_versions", 1, 0, 0):
        g = (
            ReadJsonl(records_file)
            | AskLLM("Rate {text}.", model="gpt-4o-mini@openai").tag("rating")
            | MapField(str.upper, "text")
        )
        g.run()
        assert g.last_run.engine == "stream"
        versions = bf.versions("rating")
        assert len(versions) == 1
        assert versions[1].rows == N and versions[1].calls == N and versions[1].failed == 0


def test_auto_keeps_local_where_streaming_would_change_what_the_user_sees(server, records_file):
    ask = AskLLM("Say something about {text}.", model="gpt-4o-mini@openai")
    with bf.ProjectFolder("auto_local", 1, 0, 0):
        g = ReadJsonl(records_file) | ask | TakeFirstN(3)
        g.run()  # streaming would stop reading after the first chunks and pay for fewer calls
        assert g.last_run.engine == "local" and "TakeFirstN" in g.last_run.engine_reason
        assert server.stats()["answered"] == N
        g2 = ReadJsonl(records_file) | Repeat(MapField(str.upper, "text"), 2)
        g2.run()
        assert g2.last_run.engine == "local" and "gathers" in g2.last_run.engine_reason
        g3 = ReadJsonl(records_file) | AskLLM("Other {text}.", model="gpt-4o-mini@openai")
        g3.run(budget_usd=1.0)
        assert g3.last_run.engine == "local" and "budget" in g3.last_run.engine_reason
