"""Versions of a tagged op: kept in the project per fingerprint, listed in a new process, compared free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, FromList

MODEL = "gpt-4o-mini@openai"
REPO = Path(__file__).resolve().parents[2]
REVIEWS = [
    {"idx": "r1", "review": "Great value, works well", "gold": "positive"},
    {"idx": "r2", "review": "Broke after a day", "gold": "negative"},
    {"idx": "r3", "review": "It is fine I guess", "gold": "neutral"},
]
V1 = "Sentiment of this review, one word: {review}"
V2 = "Classify as positive, negative or neutral: {review}"


def graph(prompt: str, slot: str = "sentiment"):
    with bf.ProjectFolder("iter", 0, 1, 0):
        return FromList(REVIEWS) | AskLLM(prompt, model=MODEL, output_key="label", temperature=0).tag(slot)


def answered(server) -> int:
    return server.stats()["answered"]


def test_each_edit_of_a_tagged_op_is_kept_once_with_its_prompt_model_results_and_cost(server):
    graph(V1).run()
    graph(V2).run()
    graph(V2).run()  # unchanged: no new version
    memo.clear()
    graph(V1).run()  # reverted: the earlier version, found again, not a third
    vl = bf.versions("sentiment", project=bf.ProjectFolder("iter", 0, 1, 0))
    assert [v.number for v in vl] == [1, 2]
    v1, v2 = vl[1], vl[2]
    assert v1.args["prompt"] == V1 and v2.args["prompt"] == V2
    assert v2.args["temperature"] == "0" and v2.args["model"] == MODEL
    assert v2.changes(v1) == ["prompt"]
    assert v1.answered_by == MODEL and (v1.rows, v1.failed, v1.calls) == (3, 0, 3)
    # what the answers cost when first paid equals the ledger's records for them
    ledger = bf.ProjectFolder("iter", 0, 1, 0).ledger.to_pandas()
    prompts = ledger["request"].map(lambda r: r["messages"][-1]["content"])
    paid_v1 = ledger.loc[prompts.str.startswith("Sentiment"), "cost_usd"].sum()
    assert v1.cost_usd == pytest.approx(paid_v1) and v1.cost_usd > 0
    assert v1.spent_usd == pytest.approx(v1.cost_usd)  # its recording run paid for every answer
    assert v1.to_pandas(meta=False).columns.tolist() == ["review", "gold", "label"]
    pd.testing.assert_series_equal(v2.to_pandas()["label"], graph(V2).run()["label"])


def test_a_version_answered_from_the_ledger_spent_nothing_but_keeps_its_first_cost(server):
    graph(V1).run()
    memo.clear()
    before = answered(server)
    graph(V1, slot="copy").run()  # same requests, another slot: served by the ledger
    assert answered(server) == before
    v = bf.versions("copy", project=bf.ProjectFolder("iter", 0, 1, 0))[1]
    assert v.spent_usd == 0 and v.cost_usd > 0


def test_versions_are_listed_and_compared_in_a_new_process_without_a_request(server, tmp_path):
    graph(V1).run()
    graph(V2).run()
    before = answered(server)
    code = (
        "import bfnb as bf\n"
        "p = bf.ProjectFolder('iter', 0, 1, 0)\n"
        "print(bf.versions(project=p))\n"
        "c = bf.compare('sentiment', field='label', truth='gold', project=p)\n"
        "print(c.scores_frame()['cost_usd'].tolist())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "2 versions of 'sentiment' in project 'iter' · read from disk, nothing sent" in out
    assert "v2" in out and "prompt" in out
    costs = json.loads(out.strip().splitlines()[-1].replace("'", '"'))
    assert all(c > 0 for c in costs)
    assert answered(server) == before


def test_a_torn_last_manifest_line_is_skipped(server):
    graph(V1).run()
    project = bf.ProjectFolder("iter", 0, 1, 0)
    manifest = project.root_folder / "versions" / "manifest.jsonl"
    with open(manifest, "a") as f:
        f.write('{"slot": "sentiment", "numb')
    assert len(bf.versions(project=project)) == 1


def test_unknown_slot_names_the_slots_there_are(server):
    graph(V1).run()
    with pytest.raises(KeyError, match="slots with versions: \\['sentiment'\\]"):
        bf.versions("sentimnet", project=bf.ProjectFolder("iter", 0, 1, 0))


def test_untagged_ops_outside_notebook_cells_keep_no_versions():
    with bf.ProjectFolder("iter", 0, 2, 0) as p:
        (FromList(REVIEWS) | AskLLM(V1, output_key="label")).run()
    assert len(bf.versions(project=p)) == 0


def test_tagged_ops_that_are_not_broker_ops_keep_no_versions():
    from bfnb.op import MapField

    with bf.ProjectFolder("iter", 0, 3, 0) as p:
        (FromList(REVIEWS) | MapField(str.upper, "review").tag("upper")).run()
    assert len(bf.versions(project=p)) == 0
