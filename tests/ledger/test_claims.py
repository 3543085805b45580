"""Claims on request keys across real processes: disjoint grants, dead owners, leases on a fake clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bfnb.errors import LedgerError
from bfnb.ledger import Claim, FileClaimStore, Ledger
from bfnb.ledger.claims import CLAIMS_FILE

from .factory import key

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60  # every wait on a child process is bounded

# A child process: claims keys in batches when told "go", prints what it got, holds its claims
# until its stdin closes.
CLAIMER = textwrap.dedent(
    """
    import json, random, sys
    sys.path.insert(0, sys.argv[1])
    from bfnb.ledger import Ledger
    keys, seed = json.loads(sys.argv[3]), int(sys.argv[4])
    ledger = Ledger(sys.argv[2])
    print(json.dumps({"pid": __import__("os").getpid(), "owner": ledger.claims.owner}), flush=True)
    sys.stdin.readline()
    order = keys[:]
    random.Random(seed).shuffle(order)
    got = []
    for i in range(0, len(order), 25):
        granted, held = ledger.claims.acquire(order[i : i + 25], lease_s=3600)
        got += granted
    print(json.dumps(got), flush=True)
    sys.stdin.read()
    ledger.close()
    """
)


def claimer(folder: Path, keys: list[str], seed: int) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", CLAIMER, str(ROOT), str(folder), json.dumps(keys), str(seed)]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)


def read_line(proc: subprocess.Popen[str]) -> object:
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line, f"claimer exited early with {proc.wait(timeout=DEADLINE_S)}"
    return json.loads(line)


class FakeClock:
    def __init__(self, t: float = 1_750_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


KEYS = [key(i) for i in range(400)]


def test_two_processes_claiming_the_same_keys_at_once_get_disjoint_grants(tmp_path):
    keys = [key(i) for i in range(3000)]  # 120 batches each: long enough for the two to overlap
    procs = [claimer(tmp_path, keys, seed) for seed in (1, 2)]
    try:
        for p in procs:
            read_line(p)  # both are up and have opened the store
        for p in procs:
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        a, b = (set(read_line(p)) for p in procs)  # type: ignore[arg-type]
        assert not a & b, "a key was granted to both processes"
        assert a | b == set(keys)
        # a third owner finds every key held, and by whom
        with Ledger(tmp_path) as third:
            granted, held = third.claims.acquire(KEYS[:10])
            assert granted == [] and set(held) == set(KEYS[:10])
            assert {c.pid for c in held.values()} <= {p.pid for p in procs}
    finally:
        for p in procs:
            p.stdin.close()  # type: ignore[union-attr]
            p.wait(timeout=DEADLINE_S)


def test_a_killed_owners_keys_are_free_at_once(tmp_path):
    proc = claimer(tmp_path, KEYS[:50], 0)
    try:
        info = read_line(proc)
        proc.stdin.write("go\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        assert len(read_line(proc)) == 50  # type: ignore[arg-type]
        store = FileClaimStore(tmp_path / CLAIMS_FILE)
        granted, held = store.acquire(KEYS[:50])
        assert granted == [] and held[KEYS[0]].owner == info["owner"]  # type: ignore[index]
        assert held[KEYS[0]].pid == proc.pid
    finally:
        proc.kill()  # kill -9: no release, a lease of an hour left
        proc.wait(timeout=DEADLINE_S)
    granted, held = store.acquire(KEYS[:50])
    assert granted == KEYS[:50] and held == {}
    store.close()


def test_a_claim_from_another_host_holds_until_its_lease_expires(tmp_path):
    clock = FakeClock()
    path = tmp_path / CLAIMS_FILE
    # a process on another machine, whose pid means nothing here
    remote = FileClaimStore(path, clock=clock, host="other-machine")
    here = FileClaimStore(path, clock=clock)
    assert remote.acquire(KEYS[:3], lease_s=30) == (KEYS[:3], {})
    clock.t += 29.9
    granted, held = here.acquire(KEYS[:4], lease_s=30)
    assert granted == [KEYS[3]]
    assert held[KEYS[0]] == Claim(KEYS[0], remote.owner, "other-machine", os.getpid(), 1_750_000_030.0)
    clock.t += 0.2  # the lease has run out
    assert here.acquire(KEYS[:3], lease_s=30) == (KEYS[:3], {})
    # the old owner no longer holds them: renewing tells it so
    assert remote.renew(KEYS[:3]) == []


def test_renewing_keeps_the_claims(tmp_path):
    clock = FakeClock()
    path = tmp_path / CLAIMS_FILE
    owner = FileClaimStore(path, clock=clock, host="other-machine")
    other = FileClaimStore(path, clock=clock)
    owner.acquire(KEYS[:5], lease_s=30)
    for _ in range(4):  # a slow call: renewed every third of the lease, for 40 s
        clock.t += 10
        assert owner.renew(KEYS[:5], lease_s=30) == KEYS[:5]
    clock.t += 25  # 65 s after the claim, 25 s after the last renewal
    granted, held = other.acquire(KEYS[:5])
    assert granted == [] and set(held) == set(KEYS[:5])
    clock.t += 6
    assert other.acquire(KEYS[:5])[0] == KEYS[:5]


def test_release_frees_keys_and_only_the_owners(tmp_path):
    path = tmp_path / CLAIMS_FILE
    a, b = FileClaimStore(path), FileClaimStore(path)
    a.acquire(KEYS[:4])
    b.release(KEYS[:4])  # not b's to release
    assert b.acquire(KEYS[:4]) == ([], {k: a.held()[k] for k in KEYS[:4]})
    a.release(KEYS[:2])
    assert b.acquire(KEYS[:4])[0] == KEYS[:2]
    a.close()  # closing releases what a still holds
    assert b.acquire(KEYS[:4])[0] == KEYS[:4]


def test_an_owner_may_claim_its_own_keys_again(tmp_path):
    store = FileClaimStore(tmp_path / CLAIMS_FILE)
    assert store.acquire(KEYS[:3]) == (KEYS[:3], {})
    assert store.acquire([KEYS[0], KEYS[0], KEYS[5]]) == ([KEYS[0], KEYS[5]], {})


def test_one_acquire_writes_one_line_for_many_keys(tmp_path):
    store = FileClaimStore(tmp_path / CLAIMS_FILE)
    store.acquire(KEYS)
    store.renew(KEYS)
    store.release(KEYS)
    lines = (tmp_path / CLAIMS_FILE).read_bytes().splitlines()
    assert [json.loads(line)["op"] for line in lines] == ["acquire", "renew", "release"]


def test_the_log_is_compacted_and_other_stores_follow(tmp_path):
    clock = FakeClock()
    path = tmp_path / CLAIMS_FILE
    a, b = FileClaimStore(path, clock=clock), FileClaimStore(path, clock=clock, host="other-machine")
    b.acquire(["b" * 32], lease_s=1e6)
    for i in range(3000):  # short-lived claims: history that compaction drops
        a.acquire([key(i)], lease_s=1)
        a.release([key(i)])
    assert len(path.read_bytes().splitlines()) < 2100
    granted, held = a.acquire(["b" * 32, KEYS[0]])
    assert granted == [KEYS[0]] and held["b" * 32].owner == b.owner
    assert b.acquire([KEYS[0]]) == ([], {KEYS[0]: held_by(a, KEYS[0])})


def held_by(store: FileClaimStore, k: str) -> Claim:
    return store.held()[k]


def test_a_torn_claims_line_is_cut_off(tmp_path):
    path = tmp_path / CLAIMS_FILE
    a = FileClaimStore(path)
    a.acquire(KEYS[:2])
    with open(path, "ab") as f:
        f.write(b'{"op":"acquire","owner":"x:1:y","host":"x","pid":1,"expires":1e12,"keys":["')
    b = FileClaimStore(path)
    assert b.acquire(KEYS[:3])[0] == [KEYS[2]]
    assert path.read_bytes().endswith(b"\n")


def test_an_unwritable_claims_file_fails_clearly(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    (tmp_path / CLAIMS_FILE).touch(mode=0o444)
    with pytest.raises(LedgerError, match="claims file"):
        FileClaimStore(tmp_path / CLAIMS_FILE)
