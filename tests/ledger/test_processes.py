"""Several real processes on one ledger: concurrent appends, a writer killed mid-write, refresh."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import nullcontext
from pathlib import Path

import orjson
import pytest

from bfnb.errors import LedgerWarning
from bfnb.ledger import CALLS_FILE, Ledger

from .factory import key, record

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    sys.path.insert(0, sys.argv[1])
    from tests.ledger.factory import record
    from bfnb.ledger import Ledger
    folder, start, n, batch = pathlib.Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    kw = {"response": {"content": "x" * int(sys.argv[6])}} if int(sys.argv[6]) else {}
    with Ledger(folder) as ledger:
        (folder / f"ready.{start}").touch()
        while len(list(folder.glob("ready.*"))) < int(sys.argv[7]):  # start with the other writers
            time.sleep(0.001)
        for i in range(start, start + n, batch):
            ledger.append_many([record(j, **kw) for j in range(i, i + batch)])
            print(i + batch - start, flush=True)
    """
)


def writer(folder, start, n, *, batch=1, pad=0, writers=1, **kw):
    args = [sys.executable, "-c", WRITER, str(ROOT), str(folder), *map(str, (start, n, batch, pad, writers))]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT, **kw)


def check_lines(folder):
    """Every line of the file is one whole record; returns their keys in file order."""
    data = (folder / CALLS_FILE).read_bytes()
    assert data.endswith(b"\n")
    keys = []
    for line in data.splitlines():
        d = orjson.loads(line)  # an interleaved line would not parse
        assert line.startswith(b'{"key":"' + d["key"].encode() + b'","status":"done",')
        keys.append(d["key"])
    return keys


def test_two_processes_appending_at_once_never_interleave(tmp_path):
    procs = [writer(tmp_path, 0, 2000, pad=300, writers=2), writer(tmp_path, 10_000, 2000, pad=300, writers=2)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    keys = check_lines(tmp_path)
    assert len(keys) == len(set(keys)) == 4000
    firsts = [keys.index(key(0)), keys.index(key(10_000))]
    lasts = [keys.index(key(1999)), keys.index(key(11_999))]
    assert max(firsts) < min(lasts), "the writers did not overlap in time; the test proved nothing"
    with Ledger(tmp_path) as ledger:
        assert len(ledger) == 4000
        got = ledger.get_many([key(i) for i in range(2000)] + [key(i) for i in range(10_000, 12_000)])
        assert all(g is not None and g.response["content"] == "x" * 300 for g in got)


def test_a_forked_child_gets_its_own_lock(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.append(record(0))
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=lambda: [ledger.append(record(i)) for i in range(1000, 1500)])
    child.start()
    for i in range(1, 500):
        ledger.append(record(i))
    child.join(60)
    assert child.exitcode == 0
    assert len(set(check_lines(tmp_path))) == 1000
    assert len(ledger) == 1000 and ledger.get(key(1499)) == record(1499)
    ledger.close()


def test_a_writer_killed_mid_write_loses_only_its_last_write(tmp_path):
    # 5 MB writes, killed at a random moment: some kills land inside a write and tear it.
    seed = random.randrange(1 << 32)
    print(f"kill times from random.Random({seed})")  # shown on failure, to reproduce it
    rng = random.Random(seed)
    n = 0
    for _ in range(2):
        p = writer(tmp_path, n, 10**6, batch=50, pad=100_000)
        confirmed = 0
        while confirmed < 100:  # appends the writer saw return
            confirmed = int(p.stdout.readline())
        time.sleep(rng.uniform(0, 0.3))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
        with Ledger(tmp_path) as ledger:
            whole_lines = (tmp_path / CALLS_FILE).read_bytes().count(b"\n")
            assert len(ledger) == whole_lines >= n + confirmed
            n = len(ledger)
            got = ledger.get_many([key(i) for i in range(n)])
            assert all(g is not None and len(g.response["content"]) == 100_000 for g in got)
            assert ledger.skipped_lines == 0
    torn = not (tmp_path / CALLS_FILE).read_bytes().endswith(b"\n")  # the last kill landed inside a write
    with Ledger(tmp_path) as ledger, pytest.warns(LedgerWarning, match="cut off") if torn else nullcontext():
        ledger.append(record(10**7))  # after a torn tail, the next append starts on a fresh line
    with Ledger(tmp_path) as ledger:
        assert ledger.get(key(10**7)) == record(10**7)
        assert len(ledger) == n + 1 and ledger.skipped_lines == 0


def test_refresh_sees_another_process_appends(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.append(record(0))
        p = writer(tmp_path, 1, 50)
        p.communicate(timeout=60)
        assert len(ledger._index) == 1  # not looked yet
        assert ledger.get(key(30)) == record(30)  # a miss refreshes
        assert ledger.refresh() == 0 and len(ledger) == 51
        with Ledger(tmp_path) as other:  # its own open file: locks like another process
            other.append_many([record(i) for i in range(100, 120)])
            assert ledger.get_many([key(0), key(119)])[1].key == key(119)
            other.append_many([record(i) for i in range(200, 205)])
        ledger.append(record(300))  # an append indexes what others wrote before it
        assert len(ledger._index) == 77 and ledger.status(key(204)) == "done"
