"""Live partial results and previews (#13), over real HTTP to the package's local server.

Nothing here times a run: a test waits for a count (rows seen, answers given) with a deadline,
and pauses the broker when it needs the run to stand still while it looks.  The server answers
slowly (``SLOW``, two calls at a time) so that a run lasts seconds: a look that comes while it
goes on does not depend on a busy machine scheduling the test's thread promptly.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

import pytest

import bfnb as bf
from bfnb.brokers import RateLimits, get_broker
from bfnb.errors import BfnbError
from bfnb.op import AskLLM, FromList, MapField, Sort, WriteJsonl, progress

MODEL = "gpt-4o-mini@openai"
SLOW = 0.25  # seconds per answer


def wait_for(predicate, what: str, deadline_s: float = 30.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what} after {deadline_s} s")


def words(n: int) -> list[dict]:
    return [{"w": f"word{i:02d}"} for i in range(n)]


def shout(text: str) -> str:
    return text.upper()


def test_partial_gives_the_rows_answered_so_far_with_downstream_ops_applied(server):
    server.configure(latency_s=SLOW)
    broker = get_broker("chat", MODEL, limits=RateLimits(concurrency=2))
    with bf.ProjectFolder("partial", 1, 0, 0):
        g = FromList(words(24)) | AskLLM("Write about {w}.", model=MODEL) | MapField(shout, "text", "loud")
    handle = g.run(background=True)
    assert handle.partial().empty or len(handle.partial()) < 24
    wait_for(lambda: len(handle.partial()) >= 4, "four partial rows")
    broker.pause()
    try:
        wait_for(lambda: broker.snapshot().in_flight == 0, "in-flight calls to finish")
        seen = handle.partial()
        assert 4 <= len(seen) < 24 and not handle.done()
        assert set(seen["status"]) == {"done"}
        assert (seen["loud"] == seen["text"].str.upper()).all()  # MapField ran on the partial rows
    finally:
        broker.resume()
    final = handle.result(timeout=60)
    assert len(final) == 24
    assert final.loc[seen.index, "text"].tolist() == seen["text"].tolist()  # the same answers, not re-asked
    assert server.stats()["answered"] == 24
    assert handle.partial().equals(final)


def test_a_barrier_downstream_stops_the_partial_rows_before_it(server):
    server.configure(latency_s=SLOW)
    broker = get_broker("chat", MODEL, limits=RateLimits(concurrency=2))
    with bf.ProjectFolder("partial", 1, 0, 1):
        g = FromList(words(20)) | AskLLM("Write about {w}.", model=MODEL) | MapField(shout, "text", "loud") | Sort("w")
    handle = g.run(background=True)
    wait_for(lambda: len(handle.partial()) >= 2, "two partial rows")
    broker.pause()
    try:
        rows = handle.partial()
        assert "loud" in rows.columns and handle._partial.stage == "MapField"
    finally:
        broker.resume()
    assert len(handle.result(timeout=60)) == 20


def test_preview_sends_n_calls_writes_nothing_and_resume_sends_only_the_rest(server, tmp_path):
    with bf.ProjectFolder("preview", 1, 0, 0) as project:
        out = project["out/answers.jsonl"]
        g = FromList(words(30)) | AskLLM("Write about {w}.", model=MODEL) | MapField(shout, "text", "loud")
        g |= WriteJsonl(out)
    handle = g.run(preview=5)
    assert handle.state == "preview" and repr(handle) == "<bfnb.RunHandle preview 5 of 30>"
    assert server.stats()["answered"] == 5
    rows = handle.partial()
    assert rows["w"].tolist() == [f"word{i:02d}" for i in range(5)]  # the first five, in input order
    assert (rows["loud"] == rows["text"].str.upper()).all()
    assert not out.exists()  # a preview writes no file
    with pytest.raises(BfnbError, match="preview 5 of 30"):
        handle.result(timeout=0)
    handle.resume()
    final = handle.result(timeout=60)
    assert len(final) == 30 and server.stats()["answered"] == 30  # the preview's five were not sent again
    assert final.loc[rows.index, "text"].tolist() == rows["text"].tolist()
    assert [json.loads(line)["w"] for line in out.read_text().splitlines()] == [f"word{i:02d}" for i in range(30)]
    with pytest.raises(BfnbError, match="goes on from a preview"):
        handle.resume()


def test_a_cancelled_preview_stops_there_and_keeps_its_rows(server):
    with bf.ProjectFolder("preview", 1, 0, 1):
        g = FromList(words(12)) | AskLLM("Write about {w}.", model=MODEL)
    handle = g.run(preview=3, background=True).wait()
    assert handle.label() == "preview 3 of 12"
    handle.cancel()
    assert len(handle.result(timeout=30)) == 3 and handle.done()
    assert server.stats()["answered"] == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, "5", True])
def test_preview_needs_a_positive_count(bad):
    g = FromList(words(3)) | MapField(str.upper, "w")
    with pytest.raises(ValueError, match="preview must be a positive number"):
        g.run(preview=bad)


def test_a_blocking_run_offers_its_rows_so_far_to_the_live_display(server):
    """What the notebook's table reads during a blocking run: the run's Partial, from inside its scope."""
    from bfnb.widgets.partial_view import RowsSoFar

    server.configure(latency_s=SLOW)
    broker = get_broker("chat", MODEL, limits=RateLimits(concurrency=2))
    looked: dict[str, object] = {}

    @contextlib.contextmanager
    def display(getter):  # installed like the notebook's panel; looks once rows arrive
        partial = progress.current_partial()

        def look():
            wait_for(lambda: len(partial.rows()) >= 3, "three rows in the live table")
            broker.pause()
            wait_for(lambda: broker.snapshot().in_flight == 0, "in-flight calls to finish")
            looked["rows"] = partial.rows()
            looked["html"] = RowsSoFar.of_partial(partial).html_for(looked["rows"])
            broker.resume()

        t = threading.Thread(target=look)
        t.start()
        yield
        t.join(30)

    previous = progress._display
    progress.set_display(display)
    try:
        with bf.ProjectFolder("partial", 1, 0, 2):
            g = FromList(words(16)) | AskLLM("Write about {w}.", model=MODEL) | MapField(shout, "text", "loud")
        final = g.run()
    finally:
        progress.set_display(previous)
    rows = looked["rows"]
    assert 3 <= len(rows) < 16 and "loud" in rows.columns
    assert "answers so far" in looked["html"] and "of 16 rows" in looked["html"]
    assert len(final) == 16


def test_a_streaming_run_shows_the_chunks_that_left_the_chain(server, monkeypatch):
    """The same look at a chunked engine: its chunks reach handle.partial() through the engine listener."""
    from bfnb.engines import get_engine

    monkeypatch.setattr(get_engine("stream"), "chunk_rows", 4)  # the engine instance every run uses
    server.configure(latency_s=SLOW)
    broker = get_broker("chat", MODEL, limits=RateLimits(concurrency=2))
    with bf.ProjectFolder("partial", 1, 0, 3) as project:
        src = project["in/words.jsonl"]
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text("".join(json.dumps(w) + "\n" for w in words(24)))
        g = bf.op.ReadJsonl(src) | AskLLM("Write about {w}.", model=MODEL) | MapField(shout, "text", "loud")
    handle = g.run(background=True, engine="stream")
    wait_for(lambda: len(handle.partial()) >= 4, "a first chunk through the chain")
    broker.pause()
    try:
        rows = handle.partial()
        assert 4 <= len(rows) < 24 and (rows["loud"] == rows["text"].str.upper()).all()
    finally:
        broker.resume()
    assert len(handle.result(timeout=60)) == 24
    assert handle.result().loc[rows.index, "text"].tolist() == rows["text"].tolist()
