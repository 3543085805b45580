"""A truncated or corrupt checkpoint file is a cache miss with a warning; answers come from the ledger."""

from __future__ import annotations

import warnings

import pytest

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, CheckPoint, FromList


def poems():
    with bf.ProjectFolder("ckpt", 1, 0, 0):
        words = [{"keyword": f"myth {i}"} for i in range(5)]
        return bf.Graph() | FromList(words) | AskLLM("Poem about {keyword}", model="gpt-4o-mini@openai") | CheckPoint()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_checkpoint_is_a_warned_cache_miss_and_the_ledger_answers(server, damage):
    first = poems().run()
    assert (first["status"] == "done").all() and server.stats()["answered"] == 5
    files = sorted(bf.ProjectFolder("ckpt", 1, 0, 0).checkpoint_dir.glob("*.arrow"))
    assert files
    for f in files:
        data = f.read_bytes()
        f.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not an arrow file" * 10, "empty": b""}[damage])
    memo.clear()  # as in a new kernel: only the files on disk can help
    with pytest.warns(bf.BfnbWarning) as caught:
        again = poems().run()
    named = " ".join(str(w.message) for w in caught)
    assert any(f.name in named for f in files) and "unreadable" in named
    assert again["text"].tolist() == first["text"].tolist()
    assert server.stats()["answered"] == 5  # 0 new requests: the ledger answered
    memo.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checkpoints were rewritten: no warning now
        assert poems().run()["text"].tolist() == first["text"].tolist()


def test_a_checkpoint_that_cannot_be_saved_warns_and_the_run_completes(server):
    ckpt = bf.ProjectFolder("ckpt", 1, 0, 0).checkpoint_dir
    ckpt.rmdir()
    ckpt.write_text("a file where the checkpoint folder goes")
    with pytest.warns(bf.BfnbWarning, match="could not save the checkpoint"):
        out = poems().run()
    assert (out["status"] == "done").all() and server.stats()["answered"] == 5
    ckpt.unlink()  # the fix
    memo.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert poems().run()["text"].tolist() == out["text"].tolist()
    assert list(ckpt.glob("*.arrow")) and server.stats()["answered"] == 5


def test_a_parquet_checkpoint_from_an_earlier_version_is_still_read_then_replaced(server):
    """Checkpoints were Parquet files before they were Arrow files: an upgrade keeps serving them."""
    from bfnb.convert import write_parquet
    from bfnb.op.checkpoint import _read_arrow

    first = poems().run()
    ckpt = bf.ProjectFolder("ckpt", 1, 0, 0).checkpoint_dir
    for f in ckpt.glob("*.arrow"):
        write_parquet(_read_arrow(f), f.with_suffix(".parquet"))
        f.unlink()
    memo.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = poems()
        again = g.run()
    assert again["text"].tolist() == first["text"].tolist()
    assert "checkpoint" in {n.cached for n in g.last_run.nodes} and server.stats()["answered"] == 5
    arrow, parquet = {f.stem for f in ckpt.glob("*.arrow")}, {f.stem for f in ckpt.glob("*.parquet")}
    assert arrow and not arrow & parquet  # the one read was rewritten as an Arrow file (upstream: not needed)
