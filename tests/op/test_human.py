"""AskHuman: answers come from a labeller (or a widget) and are cached in the ledger like any call."""

from __future__ import annotations

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskHuman, FromList


def test_labeller_is_asked_once_per_item_and_answers_are_cached():
    asked = []

    def labeller(question, labels):
        asked.append(question)
        return labels[0] if "good" in question else labels[1]

    def build():
        with bf.ProjectFolder("human", 1, 0, 0):
            return (
                bf.Graph()
                | FromList([{"t": "good poem"}, {"t": "bad poem"}, {"t": "good poem "}])
                | AskHuman("Is this fine? {t}", ["yes", "no"], labeller=labeller)
            )

    out = build().run()
    assert out["label"].tolist() == ["yes", "no", "yes"] and len(asked) == 3
    memo.clear()
    again = build().run()
    assert again["label"].tolist() == ["yes", "no", "yes"] and len(asked) == 3  # from the ledger
    led = bf.ProjectFolder("human", 1, 0, 0).ledger.to_pandas()
    assert set(led["kind"]) == {"human"} and len(led) == 3


def test_without_a_labeller_outside_jupyter_entries_stay_pending():
    g = bf.Graph() | FromList([{"t": "x"}]) | AskHuman("{t}?", ["a", "b"])
    out = g.run()
    assert out["status"].tolist() == ["pending"] and out["label"].tolist() == [None]
