"""Fingerprints: code and captured values change them, equal values match, unknowns raise."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bfnb.fingerprint import Unhashable, fingerprint

FACTOR = 2


def times_factor(n):
    return n * FACTOR


def test_function_code_changes_the_fingerprint():
    assert fingerprint(lambda n: n + 1) == fingerprint(lambda n: n + 1)
    assert fingerprint(lambda n: n + 1) != fingerprint(lambda n: n + 2)
    assert fingerprint(lambda n: n + 1) != fingerprint(lambda n: n - 1)


def test_closure_values_change_the_fingerprint():
    def make(k):
        return lambda n: n + k

    assert fingerprint(make(1)) == fingerprint(make(1))
    assert fingerprint(make(1)) != fingerprint(make(2))
    assert fingerprint(make([1, 2])) != fingerprint(make([1, 3]))


def test_referenced_globals_change_the_fingerprint(monkeypatch):
    before = fingerprint(times_factor)
    monkeypatch.setitem(globals(), "FACTOR", 3)
    assert fingerprint(times_factor) != before
    monkeypatch.setitem(globals(), "FACTOR", 2)
    assert fingerprint(times_factor) == before


def test_equal_values_give_equal_fingerprints_and_different_values_differ():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint([1, 2]) != fingerprint([2, 1])
    assert fingerprint(1) != fingerprint("1") != fingerprint(1.0)
    assert fingerprint(["x", "y"]) != fingerprint(["x", "z"])


def test_dataframes_and_arrays_by_content():
    df = pd.DataFrame({"a": [1, 2], "t": ["x", "y"]}, index=["r1", "r2"])
    assert fingerprint(df) == fingerprint(df.copy())
    assert fingerprint(df) != fingerprint(df.assign(t=["x", "z"]))
    assert fingerprint(df) != fingerprint(df.set_axis(["r1", "r3"]))
    assert fingerprint(df) != fingerprint(df.rename(columns={"a": "b"}))
    arr = np.arange(6)
    assert fingerprint(arr) == fingerprint(np.arange(6))
    assert fingerprint(arr) != fingerprint(arr.reshape(2, 3))
    assert fingerprint(arr) != fingerprint(arr.astype(np.int32))
    changed = arr.copy()
    changed[5] = 7
    assert fingerprint(arr) != fingerprint(changed)


def test_nesting_beyond_the_depth_cap_raises_clearly():
    deep: list = []
    for _ in range(50):
        deep = [deep, 1]
    with pytest.raises(Unhashable, match="nested deeper"):
        fingerprint(deep)


def test_an_object_it_cannot_see_into_raises_instead_of_guessing():
    class Opaque:
        __slots__ = ("x",)

    with pytest.raises(Unhashable, match="Opaque"):
        fingerprint(Opaque())
    with pytest.raises(Unhashable):
        fingerprint(object())


def test_fingerprints_are_stable_across_processes():
    value = {"a": [1, 2.5, "x"], "df": None}
    code = (
        "import pandas as pd, numpy as np;"
        "from bfnb.fingerprint import fingerprint;"
        "print(fingerprint({'a': [1, 2.5, 'x'], 'df': None}));"
        "print(fingerprint(pd.DataFrame({'a': [1, 2], 't': ['x', 'y']})));"
        "print(fingerprint(np.arange(6)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    here = [
        fingerprint(value),
        fingerprint(pd.DataFrame({"a": [1, 2], "t": ["x", "y"]})),
        fingerprint(np.arange(6)),
    ]
    assert out.stdout.split() == here
