"""The key index against a plain-Python model of the rules, on both of its tiers."""

from __future__ import annotations

import os
import random

import numpy as np

from bfnb.ledger.index import KeyIndex, key_words, scan


def line(key: str, done: bool, body: str = "") -> bytes:
    status = b"done" if done else b"failed"
    return b'{"key":"%s","status":"%s","x":"%s"}\n' % (key.encode(), status, body.encode())


def reference(events):
    """Later lines win, except that a done line is never replaced by a failed one."""
    out = {}
    for key, done, off in events:
        if key not in out or done or not out[key][1]:
            out[key] = (off, done)
    return out


def random_keys(rng, n):
    # Pairs that share their first 16 hex digits exercise the arrays' collision path.
    keys = [f"{rng.getrandbits(128):032x}" for _ in range(n)]
    keys += [keys[i][:16] + f"{rng.getrandbits(64):016x}" for i in range(0, n, 5)]
    return keys


def test_scan_finds_complete_lines_only(tmp_path):
    keys = [f"{i:032x}" for i in range(1, 6)]
    data = b"".join(line(k, i % 2 == 0, "é" * i) for i, k in enumerate(keys))
    data += b"garbage line\n" + line("f" * 32, True)[:-5]
    path = tmp_path / "calls.jsonl"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        e, end, skipped = scan(fd, 0, len(data))
        assert skipped == 1
        assert end == data.index(b"garbage line\n") + len(b"garbage line\n")  # torn tail left out
        assert [f"{h:016x}{lo:016x}" for h, lo in zip(e.hi.tolist(), e.lo.tolist(), strict=True)] == keys
        assert e.done.tolist() == [True, False, True, False, True]
        for o, n, k in zip(e.off.tolist(), e.ln.tolist(), keys, strict=True):
            assert data[o : o + n].startswith(b'{"key":"' + k.encode()) and data[o + n - 1 : o + n] == b"\n"
        e2, end2, _ = scan(fd, e.off[2], len(data))  # from the middle, as refresh does
        assert e2.off.tolist() == e.off.tolist()[2:] and end2 == end
    finally:
        os.close(fd)


def test_index_follows_the_rules_on_both_tiers():
    rng = random.Random(7)
    keys = random_keys(rng, 300)
    events = [(rng.choice(keys), rng.random() < 0.4, off) for off in range(0, 4000 * 100, 100)]
    index = KeyIndex()
    for n, (k, done, off) in enumerate(events):
        index.add(k, off, 100, done)
        if n in (500, 1700, 3000):  # fold the recent dict into the sorted arrays now and then
            index.merge()
        if n in (200, 400, 1000, 1100, 2500):
            assert len(index) == len(reference(events[: n + 1]))
    late = [(rng.choice(keys), rng.random() < 0.5, 10**6 + i) for i in range(200)]
    index.add_many([k for k, _, _ in late], [o for _, _, o in late], [100] * 200, [d for _, d, _ in late])
    expected = reference(events + late)

    assert len(index) == len(expected)
    assert all(index.get(k) == (off, 100, done) for k, (off, done) in expected.items())
    asked = [*expected, "0" * 32, "zz", keys[0].upper()]
    off, _, done = index.get_many(asked)
    assert off.tolist() == [expected[k][0] for k in expected] + [-1, -1, -1]
    assert done.tolist() == [expected[k][1] for k in expected] + [False, False, False]
    assert index.get("0" * 32) is None and index.get(keys[0].upper()) is None
    assert sorted(index.keys(done=False)) == sorted(k for k, (_, d) in expected.items() if not d)
    winners = index.winners()  # after a merge, all in the sorted tier, listed in file order
    assert winners.off.tolist() == sorted(off for off, _ in expected.values())


def test_key_words_validates_keys():
    good = "0123456789abcdef" * 2
    hi, lo, valid = key_words([good, good.upper(), good[:-1], good + "0", None, "é" * 32, "g" * 32])
    assert valid.tolist() == [True, False, False, False, False, False, False]
    assert (int(hi[0]), int(lo[0])) == (0x0123456789ABCDEF, 0x0123456789ABCDEF)
    assert np.asarray(hi).dtype == np.uint64
