"""An interrupt (the notebook's stop button is a SIGINT) mid-run leaves the ledger consistent; a re-run resumes."""

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
    import bfnb as bf
    from bfnb.op import FromList, AskLLM
    from bfnb.brokers import RateLimits, get_broker
    get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(concurrency=8))
    with bf.ProjectFolder("stop", 1, 0, 0):
        g = FromList([{"w": f"w{i}"} for i in range(300)]) | AskLLM("About {w}", model="gpt-4o-mini@openai")
    try:
        out = g.run()
        print("DONE", int((out["status"] == "done").sum()), flush=True)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    """
)


@pytest.mark.slow
def test_keyboard_interrupt_then_rerun(tmp_path):
    with LocalServer(latency_s=0.05).start() as server:
        env = {k: v for k, v in os.environ.items() if k != "BFNB_OFFLINE"}
        env.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-test-not-real", BFNB_DATA_DIR=str(tmp_path))
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while server.stats()["answered"] < 40 and time.time() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert "INTERRUPTED" in out
        first = server.stats()["answered"]
        assert first < 300
        from bfnb.ledger import Ledger

        recorded = len(Ledger(tmp_path / "stop_v1.0.0" / "ledger"))
        assert recorded <= first
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
        assert "DONE 300" in done.stdout, done.stderr[-2000:]
        stats = server.stats()
        # every answer the client read was recorded, so nothing it read is paid twice; an answer the
        # server wrote as the interrupt landed (never read) is the only thing sent again
        assert stats["duplicates"] == 0
        assert first - recorded == stats["resent_unread"], (first, recorded, stats)
