"""Issue 11, "corrupt ledger lines": damaged lines are never re-paid without a sign.

A ledger line can be damaged by a disk error, a bad copy or a hand edit.  Its call is no longer
cached, so a re-run pays for it again; the user must be told how many lines and which file.
"""

from __future__ import annotations

import shutil

import orjson
import pytest

import bfnb as bf
from bfnb.ledger import CALLS_FILE, Ledger
from bfnb.op import AskLLM, FromList

MODEL = "gpt-4o-mini@openai"
WORDS = [f"myth {i}" for i in range(8)]


def poems() -> bf.Graph:
    with bf.ProjectFolder("corrupt", 1, 0, 0):
        return bf.Graph() | FromList([{"keyword": w} for w in WORDS]) | AskLLM("A poem about {keyword}.", model=MODEL)


def new_kernel() -> None:
    """Forget everything held in memory, and the node checkpoints: only the ledger can answer."""
    from bfnb import project
    from bfnb.executor.memo import memo

    memo.clear()
    project._ledgers.clear()
    shutil.rmtree(bf.ProjectFolder("corrupt", 1, 0, 0).checkpoint_dir)


def damage(path, lines: dict[int, bytes]) -> list[bytes]:
    """Replace whole lines of ``path`` (by number) and return the keys they held."""
    data = path.read_bytes().splitlines(keepends=True)
    keys = [orjson.loads(data[n])["key"].encode() for n in lines]
    for n, new in lines.items():
        data[n] = new
    path.write_bytes(b"".join(data))
    return keys


def test_damaged_ledger_lines_warn_with_their_count_and_file_and_only_they_are_paid_again(server):
    first = poems().run()
    assert server.stats()["answered"] == len(WORDS)
    calls = bf.ProjectFolder("corrupt", 1, 0, 0).ledger_dir / CALLS_FILE
    line = calls.read_bytes().splitlines(keepends=True)[2]
    # two lines whose start is garbage (found when the ledger loads), one with a damaged body
    # (found when its record is read), in the middle of the file
    damage(calls, {2: b"\x00" * 40 + line[40:], 4: b"#" + line[1:], 6: line[:80] + b"\xff\xfe" + line[82:]})
    new_kernel()
    with pytest.warns(bf.LedgerWarning) as caught:
        again = poems().run()
    messages = [str(w.message) for w in caught]
    assert any(f"2 damaged lines in {calls} skipped" in m for m in messages), messages
    assert any(f"1 damaged line in {calls} could not be read" in m for m in messages), messages
    assert all("sends (and pays for) them again" in m for m in messages), messages
    # exactly the three damaged calls were sent again, and the run is complete and the same
    assert server.stats()["answered"] == len(WORDS) + 3
    assert (again["status"] == "done").all() and again["text"].tolist() == first["text"].tolist()
    # the re-paid answers are cached now: a further re-run sends nothing
    new_kernel()
    with pytest.warns(bf.LedgerWarning, match="2 damaged lines"):  # still there, still said
        poems().run()
    assert server.stats()["answered"] == len(WORDS) + 3


def test_a_clean_ledger_loads_without_a_warning(tmp_path, recwarn):
    from tests.ledger.factory import record

    with Ledger(tmp_path) as ledger:
        ledger.append_many([record(i) for i in range(5)])
    with Ledger(tmp_path) as ledger:
        assert len(ledger) == 5 and ledger.to_pandas()["status"].eq("done").all()
    assert not [w for w in recwarn if issubclass(w.category, bf.LedgerWarning)]
