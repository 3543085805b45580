"""bf.broker_op: a user's expensive call (a loopback search service here) gets the call client's guarantees."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import bfnb as bf
from bfnb.events import CallDone, CallRetrying, bus
from bfnb.executor.memo import memo
from bfnb.op import FromList

DOCS = {"d1": "greek myths of fire", "d2": "the trojan war", "d3": "fire and ice", "d4": "odyssey at sea"}


class SearchService:
    """A tiny search API on 127.0.0.1: POST {"query": ...} -> {"hits": [doc ids]}; counts what it gets."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0) -> None:
        self.requests: list[str] = []
        self.fail_first, self.delay_s = fail_first, delay_s
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with service.lock:
                    service.requests.append(body["query"])
                    n = len(service.requests)
                    service.in_flight += 1
                    service.max_in_flight = max(service.max_in_flight, service.in_flight)
                try:
                    time.sleep(service.delay_s)
                    if n <= service.fail_first:
                        self.send_response(503)
                        self.send_header("Retry-After", "0")
                        self.end_headers()
                        return
                    words = set(body["query"].split())
                    hits = sorted(d for d, text in DOCS.items() if words & set(text.split()))
                    out = json.dumps({"hits": hits}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                finally:
                    with service.lock:
                        service.in_flight -= 1

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/search"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def search():
    s = SearchService()
    yield s
    s.close()


QUERIES = [{"idx": f"e{i}", "query": q} for i, q in enumerate(["fire", "sea", "fire", "war"])]  # "fire" twice: one call


def graph(service, **kw):
    svc = bf.broker_op(service.url, name="search", price=0.002, **kw)
    with bf.ProjectFolder("search", 1, 0, 0):
        return bf.Graph() | FromList(QUERIES) | svc("query", "hits")


def test_an_http_service_is_keyed_cached_priced_and_shown(search):
    seen: list = []
    unsubscribe = bus.subscribe(seen.append)
    try:
        g = graph(search, version="1")
        out = g.run()
    finally:
        unsubscribe()
    assert [h["hits"] for h in out["hits"]] == [["d1", "d3"], ["d4"], ["d1", "d3"], ["d2"]]
    assert (out["status"] == "done").all()
    assert sorted(search.requests) == ["fire", "sea", "war"]  # identical requests sent once
    total = g.cost().loc["total"]
    assert total["calls_sent"] == 3 and total["cost_usd"] == pytest.approx(3 * 0.002)  # priced per call
    assert {e.broker for e in seen if isinstance(e, CallDone)} == {"service search"}  # what the panel shows
    assert len(bf.Ledger(bf.ProjectFolder("search", 1, 0, 0).ledger_dir).to_pandas()) == 3

    memo.clear()  # a new kernel: only the ledger can help
    again = graph(search, version="1").run()
    assert len(search.requests) == 3 and again["hits"].tolist() == out["hits"].tolist()

    graph(search, version="2").run()  # a new version re-sends every call
    assert len(search.requests) == 6
    memo.clear()
    graph(search, version="1").run()  # reverting the version costs nothing
    assert len(search.requests) == 6


def test_failures_are_retried_and_concurrency_is_bounded(monkeypatch):
    search = SearchService(fail_first=2, delay_s=0.05)
    retries: list = []
    unsubscribe = bus.subscribe(lambda e: retries.append(e) if isinstance(e, CallRetrying) else None)
    try:
        g = graph(
            search,
            version="1",
            limits=bf.RateLimits(concurrency=2),
            retry=bf.Retry(max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.02),
        )
        out = g.run()
    finally:
        unsubscribe()
        search.close()
    assert (out["status"] == "done").all()
    assert len(retries) == 2 and len(search.requests) == 5  # 3 calls + 2 retried 503s
    assert search.max_in_flight <= 2


def test_a_function_service_sync_or_async_and_what_editing_it_does():
    calls: list[str] = []

    def lookup(q):
        calls.append(q)
        return {"n": len(q)}

    def build(fn, version="1"):
        with bf.ProjectFolder("fn", 1, 0, 0):
            return FromList(QUERIES) | bf.broker_op(fn, name="lookup", version=version)("query", "res")

    assert build(lookup).run()["res"].tolist() == [{"n": 4}, {"n": 3}, {"n": 4}, {"n": 3}]
    assert sorted(calls) == ["fire", "sea", "war"]

    async def lookup_edited(q):  # the "same" service, edited: the version says whether answers changed
        calls.append(q)
        return {"n": -1}

    memo.clear()
    assert build(lookup_edited).run()["res"].tolist()[0] == {"n": 4}  # editing alone re-sends nothing
    assert len(calls) == 3
    assert build(lookup_edited, version="2").run()["res"].tolist()[0] == {"n": -1}
    assert len(calls) == 6


def test_a_failing_function_keeps_its_rows_and_bad_arguments_are_refused():
    def boom(q):
        raise ValueError(f"no index for {q!r}")

    with bf.ProjectFolder("boom", 1, 0, 0):
        out = (FromList(QUERIES) | bf.broker_op(boom)("query", "res")).run()
    assert set(out["status"]) == {"failed"} and "ValueError: no index for 'fire'" in out["error"].iloc[0]
    with pytest.raises(ValueError, match="name"):
        bf.broker_op(lambda q: q)
    with pytest.raises(TypeError, match="function or an http"):
        bf.broker_op("ftp://x", name="x")
    with pytest.raises(TypeError):
        bf.broker_op(boom, not_an_option=1)


def test_a_mock_run_never_calls_the_service(search):
    from bfnb.calls import MOCK

    token = MOCK.set(True)  # what a mock=True run sets while it plans and runs
    try:
        with bf.ProjectFolder("mock", 1, 0, 0):
            bare = (FromList(QUERIES) | bf.broker_op(search.url, name="search")("query", "hits")).run()
            stand_in = bf.broker_op(search.url, name="search", mock=lambda query: {"hits": ["mock"]})
            mocked = (FromList(QUERIES) | stand_in("query", "hits")).run()
    finally:
        MOCK.reset(token)
    assert search.requests == []
    assert set(bare["status"]) == {"pending"}
    assert set(mocked["status"]) == {"done"} and mocked["hits"].iloc[0] == {"hits": ["mock"]}
    with bf.ProjectFolder("mock", 1, 0, 0):  # a real run afterwards: mock answers are keyed apart
        real = (FromList(QUERIES) | bf.broker_op(search.url, name="search")("query", "hits")).run()
    assert real["hits"].iloc[0] == {"hits": ["d1", "d3"]} and len(search.requests) == 3


def test_the_per_call_price_bounds_a_budget(search):
    g = graph(search, version="1", limits=bf.RateLimits(concurrency=1))
    out = g.run(budget_usd=0.005)  # room for two calls at $0.002, not three
    assert len(search.requests) == 2
    assert sorted(out["status"]) == ["done", "done", "done", "pending"]  # "fire" answers two entries


def test_two_processes_send_each_call_once(tmp_path):
    """Claims: started together, one process waits for the other's calls instead of paying again."""
    import os
    import subprocess
    import sys

    search = SearchService(delay_s=0.2)
    code = f"""
import bfnb as bf
from bfnb.op import FromList
svc = bf.broker_op({search.url!r}, name="search", limits=bf.RateLimits(concurrency=3))
with bf.ProjectFolder("shared", 1, 0, 0):
    g = FromList([{{"idx": str(i), "query": f"fire {{i}}"}} for i in range(6)]) | svc("query", "hits")
out = g.run()
assert (out["status"] == "done").all(), out
"""
    env = {**os.environ, "BFNB_DATA_DIR": str(tmp_path / "projects")}
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)
        ]
        errs = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        search.close()
    assert [p.returncode for p in procs] == [0, 0], errs
    assert sorted(search.requests) == sorted(f"fire {i}" for i in range(6)), errs  # each call sent once in all
