"""Crash safety and the Batch API: kill -9 mid-run, then a re-run; a Batch API run survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from bfnb.local.httpserver import LocalServer

SCRIPT = textwrap.dedent(
    """
    import sys, bfnb as bf
    from bfnb.op import FromList, AskLLM
    from bfnb.brokers import RateLimits, get_broker
    n, batch = int(sys.argv[1]), sys.argv[2] == "batch"
    get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(concurrency=8))
    with bf.ProjectFolder("resume", 1, 0, 0):
        g = FromList([{"w": f"word {i}"} for i in range(n)]) | AskLLM("Poem about {w}", model="gpt-4o-mini@openai", batch=batch)
    out = g.run()
    print("DONE", int((out["status"] == "done").sum()), flush=True)
    """
)


def _env(tmp_path, server):
    env = dict(os.environ)
    env.pop("BFNB_OFFLINE", None)
    env.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-test-not-real", BFNB_DATA_DIR=str(tmp_path / "data"))
    return env


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_completes_with_no_duplicate_request_bodies(tmp_path):
    with LocalServer(latency_s=0.05).start() as server:
        env = _env(tmp_path, server)
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, "400", "chat"], env=env, stdout=subprocess.PIPE, text=True
        )
        deadline = time.time() + 60
        while server.stats()["answered"] < 60 and time.time() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        first = server.stats()["answered"]
        assert 0 < first < 400, "the kill should land mid-run"
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, "400", "chat"], env=env, capture_output=True, text=True, timeout=120
        )
        assert "DONE 400" in done.stdout, done.stderr[-2000:]
        st = server.stats()
        assert st["duplicates"] == 0  # no call the client had received was paid for twice
        assert st["resent_unread"] <= 8  # at most the calls in flight at the kill (concurrency 8)
        assert st["answered"] - first <= 400 - first + 8  # the re-run sent only what was missing


@pytest.mark.slow
def test_batch_api_survives_a_restart_without_resubmitting(tmp_path):
    with LocalServer(batch_delay_s=3.0).start() as server:
        env = _env(tmp_path, server)
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, "30", "batch"], env=env, stdout=subprocess.PIPE, text=True
        )
        deadline = time.time() + 30
        import json
        import urllib.request

        def batches():
            req = urllib.request.Request(server.url + "/batches", headers={"Authorization": "Bearer sk-test-not-real"})
            with urllib.request.urlopen(req) as r:
                return json.loads(r.read())["data"]

        while not batches() and time.time() < deadline:
            time.sleep(0.1)
        assert batches(), "the first run should have submitted a batch"
        os.kill(proc.pid, signal.SIGKILL)  # restart while the batch is still in progress
        proc.wait()
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, "30", "batch"], env=env, capture_output=True, text=True, timeout=120
        )
        assert "DONE 30" in done.stdout, done.stderr[-2000:]
        assert len(batches()) == 1  # re-attached to the submitted batch instead of submitting again
        led = __import__("bfnb").Ledger(tmp_path / "data" / "resume_v1.0.0" / "ledger").to_pandas()
        assert led["batch"].all()
        full = __import__("bfnb.brokers.pricing", fromlist=["cost_usd"]).cost_usd
        row = led.iloc[0]
        assert row["cost_usd"] == pytest.approx(
            full("gpt-4o-mini", "openai", row["input_tokens"], row["output_tokens"]) / 2
        )
