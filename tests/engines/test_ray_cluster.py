"""An existing Ray cluster (``ray start --head``), reached through ``ray.init(address=...)`` and ``RAY_ADDRESS``,
whose workers cannot touch the project folder: records and claims still reach the ledger, through the ledger actor.

The cluster is a real head started here on 127.0.0.1 with its own temp dir, in its own process group
(stopped by that group's id, never by ``ray stop``, which would stop every Ray on the machine).  The
driver is a separate process, as a user's script would be.  Its workers run a setup hook that installs an
audit hook refusing any open, listing or creation under the project folder (file modes do not stop root,
which CI runs as); only the process hosting bfnb's ledger actor is exempt, as it stands for the driver's node.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

pytest.importorskip("ray")

DRIVER = r"""
import json, os, shutil, sys

import ray

import bfnb as bf
from bfnb.executor.memo import memo
from bfnb.op import AskLLM, EmbedText, FromList, MapField

data_dir, address = sys.argv[1], os.environ["RAY_ADDRESS"]
with bf.ProjectFolder("cluster", data_dir=data_dir) as project:
    root = str(project.root_folder)

    def probe(n):  # runs on a worker: it must not be able to open the project folder
        try:
            open(os.path.join(root, "probe.txt"), "w").close()
            return "opened"
        except PermissionError:
            return "refused"

    g = (
        FromList([{"topic": f"t{i % 4}", "n": i} for i in range(16)])
        | MapField(probe, {"n": "probe"})
        | AskLLM("One line about {topic}.", model="gpt-4o-mini@openai").tag("ask")
        | EmbedText("topic", output_key="vec", model="text-embedding-3-small@openai").tag("embed")
    )


def forbid():
    import os
    import sys

    root = os.environ["BFNB_FORBIDDEN"]
    events = {"open", "os.mkdir", "os.listdir", "os.scandir", "os.rename", "os.replace", "os.remove", "os.truncate"}

    def hook(event, args):
        if event not in events or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.path.abspath(os.fsdecode(args[0]))
        if path == root or path.startswith(root + os.sep):
            import ray

            if not (ray.get_runtime_context().get_actor_name() or "").startswith("bfnb-ledger-"):
                raise PermissionError(f"a Ray worker touched the project folder: {path}")

    sys.addaudithook(hook)


def counts():
    return {r.tag: [r.calls_sent, r.calls_cached] for r in g.last_run.nodes if r.tag}


# 1. a Ray the user started: ray.init(address=...), workers that cannot touch the project folder
ray.init(address=address, log_to_driver=False, runtime_env={
    "worker_process_setup_hook": forbid,
    "env_vars": {"BFNB_FORBIDDEN": root, "BFNB_DATA_DIR": "/nonexistent/bfnb-data"},
})
out = g.run(engine="ray")
first = {"probe": sorted(set(out["probe"])), "status": sorted(set(out["status"])), "counts": counts(),
         "ledger": len(project.ledger), "joined": ray.get_runtime_context().gcs_address}
ray.shutdown()

# 2. bfnb joins the cluster RAY_ADDRESS names; no checkpoint: the ledger answers, through the actor
memo.clear()
shutil.rmtree(project.checkpoint_dir)
again = g.run(engine="ray")
second = {"counts": counts(), "joined": ray.get_runtime_context().gcs_address,
          "same": again.drop(columns=["vec", "probe"]).sort_index().equals(out.drop(columns=["vec", "probe"]).sort_index()),
          "probe": sorted(set(again["probe"]))}
print("RESULT " + json.dumps({"first": first, "second": second}), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: both the head and the driver: Ray stays on 127.0.0.1 (it would swap 127.0.0.1 for this machine's
#: own address), and no token auth (a token in ~/.ray would turn it on for one side only)
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


@pytest.fixture
def ray_head():
    """A Ray head on 127.0.0.1 (2 CPUs, own temp dir), stopped by its process group when the test ends."""
    temp = tempfile.mkdtemp(prefix="bfray")  # short: Ray's socket paths must stay under 108 bytes
    port = _free_port()
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    cmd = [ray_cli, "start", "--head", "--block", "--num-cpus=2", "--node-ip-address=127.0.0.1", f"--port={port}",
           f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, **RAY_ENV},
    )  # fmt: skip
    watchdog = threading.Timer(180, lambda: os.killpg(proc.pid, signal.SIGKILL))  # a head that never comes up
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "Ray runtime started" in line:
                break
        else:
            pytest.fail("the Ray head did not start:\n" + "".join(lines[-30:]))
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]  # keep the pipe drained
        yield f"127.0.0.1:{port}"
    finally:
        watchdog.cancel()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
        # workers the raylet started left the group; they are this head's: they name its temp dir
        for pid in _pids_naming(temp):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def _pids_naming(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


@pytest.mark.slow
def test_an_existing_cluster_whose_workers_cannot_see_the_project(ray_head, server, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, **RAY_ENV, "RAY_ADDRESS": ray_head}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "data")], env=env, capture_output=True, text=True, timeout=240
    )
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and result, done.stdout[-3000:] + done.stderr[-3000:]
    got = json.loads(result[0][len("RESULT ") :])
    first, second = got["first"], got["second"]
    assert first["probe"] == ["refused"]  # the workers really cannot open the project folder...
    assert first["status"] == ["done"]  # ...yet every call was answered,
    assert first["ledger"] == 8  # recorded in the project's ledger (4 chats, 4 embeddings),
    assert {tag: sent for tag, (sent, _) in first["counts"].items()} == {"ask": 4, "embed": 4}
    assert server.stats()["duplicate_answers"] == 0  # and paid once
    assert first["joined"] == second["joined"] == ray_head  # both runs used the cluster
    assert second["counts"] == {"ask": [0, 16], "embed": [0, 16]}  # via RAY_ADDRESS: all from the ledger
    assert second["same"]  # the same answers
    assert second["probe"] == ["opened"]  # (without the hook, the probe can open the folder: it tests something)
