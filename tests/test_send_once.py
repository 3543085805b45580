"""Pay once across processes: two processes on one project pay for each call once (claims in the ledger)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from bfnb.local.httpserver import LocalServer

# argv: n, start-at (Unix seconds; 0: at once)
SCRIPT = textwrap.dedent(
    """
    import sys, time, bfnb as bf
    from bfnb.op import FromList, AskLLM
    from bfnb.brokers import RateLimits, get_broker
    n, start = int(sys.argv[1]), float(sys.argv[2])
    get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(concurrency=16))
    with bf.ProjectFolder("twice", 1, 0, 0):
        g = FromList([{"w": f"essay {i}"} for i in range(n)]) | AskLLM("Write about {w}", model="gpt-4o-mini@openai")
    time.sleep(max(0.0, start - time.time()))
    out = g.run()
    node = g.last_run.nodes[-1]
    print("DONE", int((out["status"] == "done").sum()), "SENT", node.calls_sent, flush=True)
    """
)


def _env(tmp_path, server):
    env = {k: v for k, v in os.environ.items() if k != "BFNB_OFFLINE"}
    env.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-test-not-real", BFNB_DATA_DIR=str(tmp_path))
    return env


def _start(env, n, at):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(n), str(at)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _finish(proc):
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "DONE 300" in out, (out, err[-2000:])
    return out, err


@pytest.mark.slow
@pytest.mark.parametrize("apart_s", [0.0, 1.2])
def test_the_same_300_calls_in_two_processes_are_paid_once(tmp_path, apart_s):
    with LocalServer(latency_s=0.1).start() as server:
        env = _env(tmp_path, server)
        at = time.time() + 4.0  # both processes have imported bfnb by then
        a = _start(env, 300, at)
        b = _start(env, 300, at + apart_s)
        (out_a, err_a), (out_b, err_b) = _finish(a), _finish(b)
        assert server.stats()["answered"] == 300
        sent = [int(o.split("SENT")[1]) for o in (out_a, out_b)]
        assert sum(sent) == 300  # each call paid by exactly one of them
        waiter_err = err_b if sent[1] < sent[0] else err_a
        assert "waiting for" in waiter_err and "another process is sending" in waiter_err  # it says what it waits on


@pytest.mark.slow
def test_a_killed_owners_calls_are_sent_once_after(tmp_path):
    with LocalServer(latency_s=0.1).start() as server:
        env = _env(tmp_path, server)
        a = _start(env, 300, 0)
        deadline = time.time() + 60
        while server.stats()["answered"] < 60 and time.time() < deadline:
            time.sleep(0.02)
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        first = server.stats()["answered"]
        assert 0 < first < 300, "the kill should land mid-run"
        _finish(_start(env, 300, 0))  # its claims are free at once: the owner's pid is gone
        st = server.stats()
        assert st["duplicates"] == 0  # no answer the killed process had read was paid again
        assert (
            st["answered"] - first <= 300 - first + 16
        )  # the rest, once, plus at most the calls in flight at the kill
