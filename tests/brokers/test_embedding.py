"""EmbeddingBroker: many one-text jobs packed into few HTTP requests, split back per text."""

from __future__ import annotations

import pytest
from broker_helpers import FAST_RETRY, resolved, run

from bfnb.brokers import EmbeddingBroker, Job, Retry
from bfnb.brokers.embedding import apportion
from bfnb.ledger.records import CallRecord
from bfnb.local import model as local_model


def embed_job(i: int, **extra: object) -> Job:
    text = f"text number {i} " + "word " * (i % 7)
    return Job(f"e{i}-{sorted(extra.items())}", "embedding",
               {"model": "text-embedding-3-small", "input": text, "dimensions": 8, **extra},
               est_input_tokens=local_model.estimate_tokens(text), max_output_tokens=0)  # fmt: skip


def test_5000_texts_take_three_requests(server) -> None:
    broker = EmbeddingBroker(resolved(server, "text-embedding-3-small"), retry=FAST_RETRY)
    jobs = [embed_job(i) for i in range(5000)]
    got: list[CallRecord] = []
    result = run(broker.run(jobs, on_record=got.append))
    stats = server.stats()
    assert stats["requests"] == 3 and len(result) == 5000 and len(got) == 5000
    one = local_model.embedding({"model": "text-embedding-3-small", "input": jobs[123].request["input"],
                                 "dimensions": 8})  # fmt: skip
    rec = result[jobs[123].key]
    assert rec.response["data"][0]["embedding"] == pytest.approx(one["data"][0]["embedding"])
    assert rec.response["data"][0]["index"] == 0 and rec.request == jobs[123].request
    assert sum(r.input_tokens for r in result.values()) == stats["tokens"]  # usage apportioned, none lost


def test_token_cap_and_input_cap_split_requests(server) -> None:
    broker = EmbeddingBroker(resolved(server), retry=FAST_RETRY, max_inputs=100, max_request_tokens=10**9)
    run(broker.run([embed_job(i) for i in range(250)], on_record=lambda r: None))
    assert server.stats()["requests"] == 3
    server.reset_stats()
    jobs = [embed_job(i) for i in range(250, 350)]
    cap = sum(j.est_input_tokens for j in jobs) // 4 + 1
    broker = EmbeddingBroker(resolved(server), retry=FAST_RETRY, max_request_tokens=cap)
    run(broker.run(jobs, on_record=lambda r: None))
    assert 4 <= server.stats()["requests"] <= 5


def test_different_parameters_are_not_mixed(server) -> None:
    broker = EmbeddingBroker(resolved(server), retry=FAST_RETRY)
    jobs = [embed_job(i) for i in range(10)] + [embed_job(i, dimensions=4) for i in range(10)]
    result = run(broker.run(jobs, on_record=lambda r: None))
    assert server.stats()["requests"] == 2
    assert {len(r.response["data"][0]["embedding"]) for r in result.values()} == {4, 8}


def test_failed_request_is_retried_as_a_whole(server) -> None:
    server.configure(fail_rate=0.5, drop_rate=0.1)
    broker = EmbeddingBroker(resolved(server), retry=Retry(max_attempts=30, backoff_base_s=0.01, backoff_max_s=0.05),
                             max_inputs=50)  # fmt: skip
    result = run(broker.run([embed_job(i) for i in range(500)], on_record=lambda r: None))
    assert len(result) == 500 and all(r.status == "done" for r in result.values())
    # retried texts stay packed: sent one by one they would need 500 answers; packed 50 a request, 10.
    # Retries come back at different times, so regrouped requests are smaller than 50 (27 seen).
    assert server.stats()["answered"] < 100


def test_apportion_sums_exactly() -> None:
    assert apportion(10, [1, 1, 2]) == [3, 2, 5]
    assert sum(apportion(1001, [3, 5, 7, 11, 13])) == 1001
    assert apportion(5, [0, 0]) in ([3, 2], [2, 3])
    assert apportion(0, []) == []
