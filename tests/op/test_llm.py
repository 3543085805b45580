"""AskLLM and friends over real HTTP against the package's local server (the openai provider path)."""

from __future__ import annotations

import asyncio

import pytest

import bfnb as bf
from bfnb.brokers import Retry, get_broker
from bfnb.executor.memo import memo
from bfnb.op import (
    AskLLM,
    FilterFailedEntries,
    FromList,
    MapField,
    PromptMaker,
    ReadMarkdownLines,
    WriteMarkdownEntries,
)


def answered(server) -> int:
    return server.stats()["answered"]


MODEL = "gpt-4o-mini@openai"
WORDS = [f"topic {i}" for i in range(20)]


def poems(words, prompt="Write a poem about {keyword}.", **kw):
    with bf.ProjectFolder("llm", 1, 0, 0):
        return bf.Graph() | FromList([{"keyword": w} for w in words]) | AskLLM(prompt, model=MODEL, **kw)


def test_answers_arrive_and_a_rerun_sends_nothing(server):
    out = poems(WORDS).run()
    assert answered(server) == 20
    assert (out["status"] == "done").all() and out["text"].map(bool).all()
    assert set(out["finish_reason"]) == {"stop"}
    memo.clear()  # as in a new kernel: only the ledger can help now
    again = poems(WORDS).run()
    assert answered(server) == 20  # 0 new requests
    assert again["text"].tolist() == out["text"].tolist()


def test_editing_data_or_prompt_resends_only_changed_and_reverting_costs_nothing(server):
    poems(WORDS).run()
    edited = [w if i >= 3 else w.upper() for i, w in enumerate(WORDS)]
    poems(edited).run()
    assert answered(server) == 23  # only the 3 changed requests were sent
    g = poems(WORDS, prompt="Write a haiku about {keyword}.")
    g.run()
    assert answered(server) == 43
    why = g.explain()
    assert set(why["served"]) == {"sent"} and set(why["changed"]) == {"prompt text"}
    memo.clear()
    g = poems(WORDS)  # revert
    g.run()
    assert answered(server) == 43
    assert set(g.explain()["served"]) <= {"ledger", "checkpoint"}
    import shutil

    shutil.rmtree(bf.ProjectFolder("llm", 1, 0, 0).checkpoint_dir)  # without node checkpoints: the ledger answers
    memo.clear()
    g = poems(WORDS)
    g.run()
    assert answered(server) == 43
    assert set(g.explain()["served"]) == {"ledger"}


def test_identical_requests_from_many_entries_are_sent_once(server):
    g = bf.Graph() | FromList([{"i": i, "keyword": "same"} for i in range(10)]) | AskLLM("Q {keyword}", model=MODEL)
    res = g.run()
    assert answered(server) == 1
    assert res["text"].nunique() == 1 and len(res) == 10 and (res["status"] == "done").all()


def test_faults_5xx_dropped_connections_and_429_bursts_complete(server):
    server.configure(fail_rate=0.10, drop_rate=0.02, burst_429=20)
    get_broker("chat", MODEL, retry=Retry(max_attempts=8, backoff_base_s=0.01, backoff_max_s=0.2))
    words = [f"w{i}" for i in range(300)]
    out = poems(words).run()
    assert (out["status"] == "done").all()
    st = server.stats()
    assert st["by_status"].get(500, 0) + st["by_status"].get(502, 0) + st["by_status"].get(503, 0) > 0
    assert st["dropped"] > 0


def test_failed_entries_are_kept_marked_and_retryable(server):
    server.configure(fail_rate=1.0)
    get_broker("chat", MODEL, retry=Retry(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02))
    out = poems(WORDS[:4]).run()
    assert (out["status"] == "failed").all()
    assert out["error"].map(lambda e: "500" in e or "50" in e).all()
    assert len((poems(WORDS[:4]) | FilterFailedEntries()).run()) == 0
    server.configure(fail_rate=0.0)
    memo.clear()
    again = poems(WORDS[:4]).run()
    assert (again["status"] == "done").all()


def test_budget_stops_before_exceeding_and_the_rest_resumes(server):
    words = [f"budget word {i} " * 20 for i in range(40)]
    g = poems(words, max_completion_tokens=50)
    out = g.run(budget_usd=0.0002)
    led = bf.ProjectFolder("llm", 1, 0, 0).ledger
    spent = sum(c or 0 for c in led.to_pandas()["cost_usd"])
    assert spent <= 0.0002
    n_done = int((out["status"] == "done").sum())
    assert 0 < n_done < 40 and set(out["status"]) == {"done", "pending"}
    memo.clear()
    rest = poems(words, max_completion_tokens=50).run()
    assert (rest["status"] == "done").all()
    assert answered(server) == 40


def test_runs_inside_an_already_running_event_loop(server):
    async def main():
        return poems(WORDS[:3]).run()

    out = asyncio.run(main())
    assert (out["status"] == "done").all()


def test_prompt_maker_and_missing_field_error(server):
    class Maker(PromptMaker):
        def make_prompt(self, data):
            return f"[{data['lang']}] {data['keyword']}"

    g = bf.Graph() | FromList([{"keyword": "a", "lang": "en"}]) | AskLLM(Maker(), model=MODEL)
    assert g.run()["status"].tolist() == ["done"]
    bad = bf.Graph() | FromList([{"word": "a"}]) | AskLLM("About {keyword}", model=MODEL)
    with pytest.raises(bf.MissingFieldError) as e:
        bad.run()
    assert e.value.field == "keyword" and e.value.idx is not None


def test_missing_key_fails_at_once_with_advice(monkeypatch):
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    with pytest.raises(bf.MissingAPIKeyError, match="OPENAI_API_KEY") as e:
        AskLLM("x", model="gpt-4o-mini@openai")
    assert "BFNB_OFFLINE" in str(e.value)


def test_structured_output_with_pydantic(server):
    from pydantic import BaseModel

    class Answer(BaseModel):
        title: str
        lines: int

    out = (
        bf.Graph()
        | FromList([{"keyword": "Icarus"}])
        | AskLLM("Poem about {keyword}", model=MODEL, response_format=Answer)
    ).run()
    value = out["text"].iloc[0]
    assert set(value) == {"title", "lines"} and isinstance(value["lines"], int)


def test_seed_quickstart_runs_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("BFNB_OFFLINE", "1")
    md = tmp_path / "greek.md"
    md.write_text("# Greek Mythology Stories\nThe Odyssey  \nPandora's Box  \nEcho  \n", encoding="utf-8")
    from bfnb.op import Shuffle, TakeFirstN

    with bf.ProjectFolder("quickstart", 1, 0, 7) as project:
        g = bf.Graph()
        g |= ReadMarkdownLines(str(md))
        g |= Shuffle(seed=42) | TakeFirstN(2)
        g |= AskLLM("Write a poem about {keyword}.", model="gpt-4o-mini@openai")
        g |= MapField(lambda headings, keyword: [*headings, keyword], ["headings", "keyword"], "headings")
        g |= WriteMarkdownEntries(project["out/poems.md"])
    g.execute(dispatch_brokers=True)
    text = (project.root_folder / "out" / "poems.md").read_text(encoding="utf-8")
    assert text.startswith("# Greek Mythology Stories") and text.count("\n## ") == 2
    assert g.cost().loc["total", "calls_sent"] == 2


def test_per_entry_cost_and_spend_rollup(server):
    out = poems(WORDS[:3], cost_key="cost_usd").run()
    costs = out["cost_usd"].tolist()
    assert all(isinstance(c, float) and c > 0 for c in costs)  # gpt-4o-mini has a known price
    g = poems(WORDS[:3], cost_key="cost_usd")
    g.run()
    assert g.cost().loc["total", "calls_sent"] == 0  # memo/ledger: nothing new paid


def test_unknown_price_is_unknown_not_zero(server, monkeypatch):
    monkeypatch.setattr(bf.options, "unlisted_models", {"some-new-model@openai"})  # not in bfnb's catalog
    g = bf.Graph() | FromList([{"keyword": "x"}]) | AskLLM("About {keyword}", model="some-new-model@openai")
    g.run()
    assert g.cost().loc["total", "cost_usd"] is None
