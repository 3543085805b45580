"""The panel and the summary line count this run, not everything the shared broker did before."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, FromList
from bfnb.op.progress import ThisRun

RECS = [{"idx": f"r{i}", "k": f"w{i}"} for i in range(5)]


def test_a_run_after_an_all_cached_run_counts_only_its_own_calls(capfd):
    with bf.ProjectFolder("counts") as project:
        (FromList(RECS) | AskLLM("Poem {k}", seed=1)).run()
        memo.clear()
        shutil.rmtree(project.checkpoint_dir)
        (FromList(RECS) | AskLLM("Poem {k}", seed=1)).run()  # all 5 from the ledger, nothing sent
        capfd.readouterr()
        (FromList(RECS[:2]) | AskLLM("Poem {k}", seed=2)).run()  # 2 new calls
    err = capfd.readouterr().err
    assert "2 done (0 cached), 0 failed" in err, err


@dataclass(frozen=True)
class Snap:
    name: str
    done: int
    cached: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    last_errors: tuple[str, ...]
    started_at: float


class FakeBroker:
    def __init__(self, snap: Snap) -> None:
        self.snap = snap
        self.paused = False

    def snapshot(self) -> Snap:
        return self.snap

    def pause(self) -> None:
        self.paused = True


def test_this_run_subtracts_the_baseline_of_the_same_session_only():
    base = Snap("chat", 10, 5, 1, 100, 50, 0.5, ("old",), started_at=1.0)
    b = FakeBroker(Snap("chat", 13, 7, 1, 130, 60, 0.75, ("old", "new"), started_at=1.0))
    view = ThisRun(b, base)
    s = view.snapshot()
    assert (s.done, s.cached, s.failed, s.input_tokens, s.output_tokens) == (3, 2, 0, 30, 10)
    assert s.cost_usd == 0.25 and s.last_errors == ("new",)
    b.snap = Snap("chat", 2, 0, 0, 20, 5, 0.1, (), started_at=2.0)  # a new session began in this run
    assert view.snapshot().done == 2
    view.pause()  # controls reach the broker itself
    assert b.paused and view == b


def test_a_background_runs_panel_counts_only_that_run():
    """The background panel's brokers (``since_now``) show what the run did, not the kernel's total."""
    from bfnb.brokers.registry import all_brokers
    from bfnb.op.progress import since_now

    with bf.ProjectFolder("bg-counts") as project:
        (FromList(RECS) | AskLLM("Poem {k}", seed=1)).run()
        memo.clear()
        shutil.rmtree(project.checkpoint_dir)
        (FromList(RECS) | AskLLM("Poem {k}", seed=1)).run()  # all 5 from the ledger: the session stays open
        view = since_now(all_brokers)
        handle = (FromList(RECS[:2]) | AskLLM("Poem {k}", seed=3)).run(background=True)
        handle.wait(timeout=60)
    raw = [b.snapshot() for b in all_brokers()]
    assert sum(s.cached for s in raw) == 5, raw  # the broker itself still counts the earlier run
    snaps = [b.snapshot() for b in view()]
    assert sum(s.done for s in snaps) == 2 and sum(s.cached for s in snaps) == 0, snaps
