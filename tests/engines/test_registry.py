"""Choosing an engine: names, options, extras, and ops an engine cannot run."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bfnb as bf
from bfnb.engines import Engine, accepted_names, get_engine
from bfnb.op import FromList, MapField


def test_an_unknown_engine_lists_the_accepted_ones():
    g = FromList([{"a": 1}]) | MapField(str, "a")
    with pytest.raises(bf.EngineError, match=r"unknown engine 'spark'; accepted: auto, local, .*stream"):
        g.run(engine="spark")
    with pytest.raises(bf.EngineError, match="accepted"):
        bf.options.engine = "spark"
    assert bf.options.engine == "auto"


def test_options_engine_is_the_default(monkeypatch):
    g = FromList([{"a": 1}]) | MapField(str, "a")
    monkeypatch.setattr(bf.options, "engine", "stream")
    g.run()
    assert g.last_run.engine == "stream" and g.last_run.engine_reason == "bf.options.engine"


def test_an_op_the_engine_cannot_run_fails_before_anything_starts(tmp_path):
    class NoMap(Engine):
        name = "nomap"

        def supports(self, op):
            return not isinstance(op, MapField)

        def execute(self, plan, ctx):  # pragma: no cover - must never be reached
            raise AssertionError("started")

    from bfnb import engines

    engines._instances["local"], saved = NoMap(), engines._instances.get("local")
    try:
        g = FromList([{"a": 1}]) | MapField(str, "a").tag("stringify")
        with pytest.raises(bf.EngineError, match="cannot run stringify; nothing was started"):
            g.run(engine="local")
    finally:
        engines._instances["local"] = saved if saved is not None else engines._instances.pop("local")


def test_builtins_are_listed_and_loaded_lazily():
    assert {"auto", "local", "stream"} <= set(accepted_names())
    assert get_engine("stream").name == "stream"
    code = "import sys, bfnb; print('bfnb.engines.stream' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_auto_runs_a_graph_read_whole_on_local_without_loading_the_stream_engine():
    """A source read whole rules streaming out from the graph alone: a new process's run does not
    pay for importing the stream engine just to be told to run on ``local``."""
    code = (
        "import sys, bfnb as bf\n"
        "from bfnb.op import FromList, MapField\n"
        "g = FromList([{'a': 1}, {'a': 2}]) | MapField(str, 'a')\n"
        "g.run(use_memo=False)\n"
        "print(g.last_run.engine, '|', g.last_run.engine_reason, '|', 'bfnb.engines.stream' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "local | auto: FromList reads whole | False"
