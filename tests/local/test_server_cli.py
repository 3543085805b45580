"""``python -m bfnb.server``: a server in another process, inspected and steered over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def call(url: str, data: dict | None = None, auth: bool = False) -> dict:
    headers = {"Content-Type": "application/json"} | ({"Authorization": "Bearer sk-test"} if auth else {})
    req = urllib.request.Request(url, data=None if data is None else json.dumps(data).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture
def served():
    proc = subprocess.Popen(
        [sys.executable, "-m", "bfnb.server", "--port", "0", "--latency", "0.001", "--rpm", "1000"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), proc.stderr.read()
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_foreground_server_answers_and_is_controlled_over_http(served):
    base = served.removesuffix("/v1")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Write a poem about Icarus"}]}
    answer = call(served + "/chat/completions", body, auth=True)
    assert "Icarus" in answer["choices"][0]["message"]["content"]
    assert call(base + "/stats")["answered"] == 1
    assert call(base + "/configure", {"burst_429": 1})["burst_429"] == 1
    with pytest.raises(urllib.error.HTTPError) as err:
        call(served + "/chat/completions", body, auth=True)
    err.value.close()
    assert err.value.code == 429 and err.value.headers["x-ratelimit-limit-requests"] == "1000"
    assert call(base + "/stats")["by_status"] == {"200": 1, "429": 1}
    call(base + "/reset_stats", {})
    assert call(base + "/stats")["requests"] == 0


def test_help_lists_the_fault_options():
    out = subprocess.run(
        [sys.executable, "-m", "bfnb.server", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for flag in (
        "--latency",
        "--rpm",
        "--tpm",
        "--fail-rate",
        "--drop-rate",
        "--burst-429",
        "--batch-delay",
        "--state-dir",
    ):
        assert flag in out.stdout
