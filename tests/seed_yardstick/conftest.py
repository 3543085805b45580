"""Run batchfactory 0.6.2's own tests of its public API against bfnb (the seed yardstick).

The three test files beside this one are copied unchanged from the batchfactory 0.6.2 source
distribution (see LICENSE-batchfactory.txt). They import ``batchfactory``; this conftest makes that
name mean bfnb for the tests here, with a ``sys.modules`` alias installed before they are collected:

    batchfactory                      -> bfnb
    batchfactory.op                   -> bfnb.op
    batchfactory.lib.markdown_utils   -> bf.markdown (bfnb.formats.markdown_utils)

No ``batchfactory`` package is shipped; the alias lives only in this test process.

The seed's tests call ``nest_asyncio.apply()`` because batchfactory ran ``asyncio.run`` inside
Jupyter's running loop. bfnb runs its async work on its own event-loop thread and needs no patch,
and the real ``apply()`` would replace asyncio's Task class for the whole pytest process (every
other test would then run on a patched asyncio). So ``nest_asyncio`` is an inert stand-in here
unless the real package is installed, in which case the real one is used.

The tests run offline, and prove it: each runs with an OpenAI key set and ``OPENAI_BASE_URL``
pointing at the package's local server, which counts requests. batchfactory's tests ask for
``mock=True`` wherever a call would be made, so the server must see none: bfnb's mock answers
with the built-in local model and sends nothing (checked after every test).
"""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

import bfnb
import bfnb.op


def _install_alias() -> None:
    lib = types.ModuleType("batchfactory.lib")
    lib.__path__ = []  # a package, so that "batchfactory.lib.markdown_utils" imports resolve
    lib.markdown_utils = bfnb.markdown
    sys.modules.setdefault("batchfactory", bfnb)
    sys.modules.setdefault("batchfactory.op", bfnb.op)
    sys.modules.setdefault("batchfactory.lib", lib)
    sys.modules.setdefault("batchfactory.lib.markdown_utils", bfnb.markdown)
    if importlib.util.find_spec("nest_asyncio") is None:
        stand_in = types.ModuleType("nest_asyncio")
        stand_in.apply = lambda loop=None: None  # bfnb needs no patched event loop
        sys.modules["nest_asyncio"] = stand_in


_install_alias()


@pytest.fixture(scope="session")
def _counting_server():
    from bfnb.local.httpserver import LocalServer

    with LocalServer().start() as server:
        yield server


@pytest.fixture(autouse=True)
def _a_key_is_set_and_nothing_is_sent(monkeypatch, _counting_server):
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-yardstick-not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", _counting_server.url)
    before = _counting_server.stats()["requests"]
    yield
    assert _counting_server.stats()["requests"] == before, "a mock=True test sent a request"
