"""What only a chunked engine does: bounded reading, early stop, atomic publish, cross-chunk checks."""

from __future__ import annotations

import orjson
import pytest

import bfnb as bf
from bfnb.engines import get_engine
from bfnb.op import FromList, MapField, ReadJsonl, Sort, TakeFirstN, WriteJsonl


@pytest.fixture(autouse=True)
def small_chunks():
    eng = get_engine("stream")
    old, eng.chunk_rows = eng.chunk_rows, 10
    yield
    eng.chunk_rows = old


def write_lines(path, n, *, bad_at=None, dup_at=None):
    with path.open("wb") as f:
        for i in range(n):
            if i == bad_at:
                f.write(b"{not json\n")
            else:
                f.write(orjson.dumps({"n": 0 if i == dup_at else i, "s": f"x{i}"}) + b"\n")
    return path


def test_auto_streams_a_chain_from_a_file_and_explain_names_the_engine(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", 35)
    g = ReadJsonl(src) | MapField(str.upper, "s") | WriteJsonl(tmp_path / "out.jsonl")
    g.run()
    assert g.last_run.engine == "stream"
    assert g.explain().attrs["engine"] == "stream"
    g2 = ReadJsonl(src) | Sort(custom_func=lambda d: d["s"]) | WriteJsonl(tmp_path / "sorted.jsonl")
    g2.run()  # a Sort by the whole entry gathers: auto keeps it local, and says why
    assert g2.last_run.engine == "local" and "Sort" in g2.last_run.engine_reason
    g3 = FromList([{"s": "a"}]) | MapField(str.upper, "s")
    g3.run()  # a source read whole: nothing to bound, so local
    assert g3.last_run.engine == "local" and "reads whole" in g3.last_run.engine_reason


def test_take_first_n_stops_reading_early(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", 100, bad_at=60)  # line 61 is malformed
    g = ReadJsonl(src) | TakeFirstN(15)
    assert g.run(engine="stream")["n"].tolist() == list(range(15))  # never reached line 61
    with pytest.raises(bf.SourceError, match="line 61"):
        g.run(engine="local", use_memo=False)  # the whole-batch engine reads every line


def test_a_failing_chunk_publishes_nothing_and_names_op_and_idx(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", 50)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"previous\n")

    def boom(n):
        if n == 37:
            raise ValueError("bad value")
        return n

    g = ReadJsonl(src) | MapField(boom, "n") | WriteJsonl(out)
    with pytest.raises(bf.UserFunctionError) as e:
        g.run(engine="stream")
    assert e.value.field == "n" and e.value.idx is not None
    assert out.read_bytes() == b"previous\n"  # earlier chunks were written to a temp file, never published
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_duplicate_idx_across_chunks_names_both_lines(tmp_path):
    src = tmp_path / "dup.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"idx": f"k{i if i != 31 else 3}", "i": i}) + b"\n" for i in range(40)))
    with pytest.raises(bf.DuplicateIdxError, match=r"dup.jsonl:4 and .*dup.jsonl:32"):
        (ReadJsonl(src) | WriteJsonl(tmp_path / "out.jsonl")).run(engine="stream")
    assert not (tmp_path / "out.jsonl").exists()


def test_chunks_reach_a_listener_as_they_are_made(tmp_path):
    from bfnb.engines import EngineContext
    from bfnb.graph.plan import plan

    src = write_lines(tmp_path / "in.jsonl", 25)
    g = ReadJsonl(src) | MapField(str.upper, "s")
    seen = []

    class Listener:
        def on_chunk(self, node_id, batch):
            if node_id == g.tail.id:
                seen.append(len(batch))

    ctx = EngineContext(g, listener=Listener())
    get_engine("stream").execute(plan(g), ctx)
    assert seen == [10, 10, 5]


def test_execute_streams_without_keeping_the_tail(tmp_path):
    src = write_lines(tmp_path / "in.jsonl", 25)
    g = ReadJsonl(src) | MapField(str.upper, "s") | WriteJsonl(tmp_path / "out.jsonl")
    g.execute(engine="stream")
    assert g.last_run.results == {}
    assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == 25
    with pytest.raises(bf.BfnbError, match="did not keep"):
        g.last_run.tail_result()


def test_sort_and_shuffle_spill_and_equal_the_whole_batch_engine(tmp_path):
    from bfnb.executor.memo import memo
    from bfnb.op import Shuffle

    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b"".join(
            orjson.dumps({"n": (i * 7919) % 53, "s": f"x{i}", **({"k": None} if i % 9 == 0 else {})}) + b"\n"
            for i in range(53)
        )
    )
    for mid in (Sort("n", reverse=True), Sort("k", "s"), Shuffle(5)):
        g = ReadJsonl(src) | mid | TakeFirstN(20) | WriteJsonl(tmp_path / "out.jsonl")
        memo.clear()
        got = g.run(engine="stream")
        streamed = (tmp_path / "out.jsonl").read_bytes()
        memo.clear()
        want = g.run(engine="local")
        assert got.index.tolist() == want.index.tolist()  # the same order, not only the same rows
        assert got.equals(want)
        assert streamed == (tmp_path / "out.jsonl").read_bytes()


def test_chunks_gathered_keep_the_idx_as_the_whole_batch_engine_does(tmp_path):
    """The joined idx stays Python objects (pandas would infer its ``str`` dtype), as on ``local``."""
    src = write_lines(tmp_path / "in.jsonl", 35)
    streamed = ReadJsonl(src).to_graph().run(engine="stream", use_memo=False)
    whole = ReadJsonl(src).to_graph().run(engine="local", use_memo=False)
    assert streamed.index.dtype == whole.index.dtype == object and streamed.index.name == whole.index.name
    assert streamed.equals(whole) and streamed.index.tolist() == whole.index.tolist()
