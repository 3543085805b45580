"""The local server's Batch API (files + batches), through the official openai client."""

from __future__ import annotations

import json
import time

import openai
import orjson
import pytest

from bfnb.local import model
from bfnb.local.httpserver import LocalServer
from bfnb.testing.fixtures import local_server


def jsonl(lines: list[dict]) -> bytes:
    return b"".join(orjson.dumps(x) + b"\n" for x in lines)


def chat_line(i: int, url: str = "/v1/chat/completions", **body) -> dict:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"A poem about ship {i}"}],
        **body,
    }
    return {"custom_id": f"req-{i}", "method": "POST", "url": url, "body": body}


_clients: list[openai.OpenAI] = []


def client_for(srv) -> openai.OpenAI:
    _clients.append(openai.OpenAI(base_url=srv.url, api_key="sk-test", max_retries=0))
    return _clients[-1]


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _clients:
        _clients.pop().close()


def wait_until(client, batch_id: str, statuses: set[str], polls: int = 500):
    for _ in range(polls):
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        time.sleep(0.01)
    raise AssertionError(f"batch {batch_id} stayed {batch.status!r}")


def test_chat_batch_round_trip_with_the_openai_client():
    with local_server() as srv:
        client = client_for(srv)
        lines = [chat_line(i, max_tokens=100) for i in range(5)]
        f = client.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
        assert f.purpose == "batch" and f.bytes == len(jsonl(lines))
        assert client.files.retrieve(f.id).filename == "input.jsonl"
        batch = client.batches.create(
            input_file_id=f.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"run": "t"},
        )
        assert batch.status == "validating" and batch.metadata == {"run": "t"}
        done = wait_until(client, batch.id, {"completed", "failed"})
        assert done.status == "completed" and done.error_file_id is None
        assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (
            5,
            5,
            0,
        )
        out = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
        assert [o["custom_id"] for o in out] == [f"req-{i}" for i in range(5)]
        for o, line in zip(out, lines, strict=True):
            assert o["error"] is None and o["response"]["status_code"] == 200 and o["response"]["request_id"]
            assert o["response"]["body"] == model.chat_completion(line["body"])
        assert done.usage.total_tokens == sum(o["response"]["body"]["usage"]["total_tokens"] for o in out)
        assert srv.stats()["batch_lines"] == 5 and srv.stats()["requests"] == 0
        assert batch.id in [b.id for b in client.batches.list()]


def test_embedding_batch_and_bad_lines_go_to_the_error_file():
    with local_server() as srv:
        client = client_for(srv)
        lines = [
            {
                "custom_id": "good",
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": "local-embed", "input": "a b"},
            },
            {
                "custom_id": "bad",
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": "local-embed", "input": 5},
            },
        ]
        f = client.files.create(file=("e.jsonl", jsonl(lines)), purpose="batch")
        done = wait_until(
            client,
            client.batches.create(input_file_id=f.id, endpoint="/v1/embeddings", completion_window="24h").id,
            {"completed"},
        )
        assert (done.request_counts.completed, done.request_counts.failed) == (1, 1)
        [good] = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
        [bad] = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
        assert good["custom_id"] == "good" and len(good["response"]["body"]["data"][0]["embedding"]) == 256
        assert bad["custom_id"] == "bad" and bad["response"]["status_code"] == 400


def test_malformed_input_file_fails_the_batch_with_line_errors():
    with local_server() as srv:
        client = client_for(srv)
        content = jsonl([chat_line(0), chat_line(0), chat_line(2, url="/v1/embeddings")]) + b"not json\n"
        f = client.files.create(file=("x.jsonl", content), purpose="batch")
        done = wait_until(
            client,
            client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h").id,
            {"failed"},
        )
        codes = {(e.code, e.line) for e in done.errors.data}
        assert codes == {("duplicate_custom_id", 2), ("mismatched_endpoint", 3), ("invalid_json_line", 4)}
        assert done.output_file_id is None


def test_unknown_ids_and_endpoints_are_refused():
    with local_server() as srv:
        client = client_for(srv)
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch_nope")
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve("file-nope")
        with pytest.raises(openai.BadRequestError, match="No such File"):
            client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
        f = client.files.create(file=("x.jsonl", jsonl([chat_line(0)])), purpose="batch")
        with pytest.raises(openai.BadRequestError, match="Unsupported endpoint"):
            client.batches.create(input_file_id=f.id, endpoint="/v1/completions", completion_window="24h")  # type: ignore[arg-type]
        assert client.files.delete(f.id).deleted
        with pytest.raises(openai.NotFoundError):
            client.files.content(f.id)


def test_batch_stays_in_progress_for_the_delay_and_can_be_cancelled():
    with local_server(batch_delay_s=30) as srv:
        client = client_for(srv)
        f = client.files.create(file=("x.jsonl", jsonl([chat_line(i) for i in range(3)])), purpose="batch")
        batch = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        running = wait_until(client, batch.id, {"in_progress"})
        assert running.request_counts.total == 3 and running.output_file_id is None
        assert client.batches.cancel(batch.id).status == "cancelling"
        cancelled = wait_until(client, batch.id, {"cancelled"})
        assert cancelled.cancelled_at is not None and cancelled.output_file_id is None
        with pytest.raises(openai.BadRequestError, match="Cannot cancel"):
            client.batches.cancel(batch.id)


def test_state_dir_keeps_files_and_batches_across_a_restart(tmp_path):
    with local_server(state_dir=tmp_path, batch_delay_s=30) as srv:
        client = client_for(srv)
        f = client.files.create(file=("x.jsonl", jsonl([chat_line(i) for i in range(2)])), purpose="batch")
        batch_id = client.batches.create(
            input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
        wait_until(client, batch_id, {"in_progress"})
    with local_server(state_dir=tmp_path, batch_delay_s=0) as srv:
        client = client_for(srv)
        assert client.files.retrieve(f.id).bytes > 0
        done = wait_until(client, batch_id, {"completed"})
        assert done.request_counts.completed == 2
        assert len(client.files.content(done.output_file_id).text.splitlines()) == 2
    with local_server(state_dir=tmp_path) as srv:
        assert client_for(srv).batches.retrieve(batch_id).status == "completed"


def test_a_stopped_and_restarted_server_resumes_its_batches_in_memory():
    srv = LocalServer(batch_delay_s=30).start()
    try:
        client = client_for(srv)
        f = client.files.create(file=("x.jsonl", jsonl([chat_line(0)])), purpose="batch")
        batch_id = client.batches.create(
            input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
        wait_until(client, batch_id, {"in_progress"})
        srv.stop()
        srv.configure(batch_delay_s=0).start()
        client = client_for(srv)  # the old client's pooled connections died with the server
        assert wait_until(client, batch_id, {"completed"}).request_counts.completed == 1
    finally:
        srv.stop()
