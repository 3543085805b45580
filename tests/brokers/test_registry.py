"""get_broker: one shared broker per endpoint, model and key; offline gets the local model."""

from __future__ import annotations

import pytest
from broker_helpers import chat_job, run

from bfnb.brokers import (
    BatchAPIBroker,
    ChatBroker,
    EmbeddingBroker,
    FunctionBroker,
    RateLimits,
    all_brokers,
    get_broker,
)
from bfnb.errors import MissingAPIKeyError


def test_same_model_same_broker(monkeypatch) -> None:
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-one")
    a = get_broker("chat", "gpt-4o-mini@openai")
    b = get_broker("chat", "gpt-4o-mini@openai")
    assert a is b and isinstance(a, ChatBroker) and a.limiter is b.limiter
    assert get_broker("chat", "gpt-4o@openai") is not a
    assert isinstance(get_broker("embedding", "text-embedding-3-small@openai"), EmbeddingBroker)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-two")  # another key has its own limits
    assert get_broker("chat", "gpt-4o-mini@openai") is not a
    assert len(all_brokers()) == 4
    assert all("sk-one" not in repr(x) and "sk-two" not in repr(x) for x in all_brokers())


def test_limits_given_later_apply_to_the_shared_broker(monkeypatch) -> None:
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-one")
    a = get_broker("chat", "gpt-4o-mini@openai")
    get_broker("chat", "gpt-4o-mini@openai", limits=RateLimits(rpm=500, concurrency=3))
    assert a.limits.concurrency == 3 and a.limiter.rpm == 500


def test_offline_uses_the_local_model(monkeypatch) -> None:
    monkeypatch.setenv("BFNB_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    broker = get_broker("chat", "gpt-4o-mini@openai")
    assert isinstance(broker, FunctionBroker) and broker.provider == "local"
    rec = run(broker.run([chat_job(1)], on_record=lambda r: None))["key-1"]
    assert rec.status == "done" and rec.cost_usd == 0.0
    assert get_broker("chat", "gpt-4o-mini@openai", batch=True) is broker  # nothing to batch offline


def test_batch_broker(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-one")
    b = get_broker("chat", "gpt-4o-mini@openai", batch=True, state_path=tmp_path / "s.jsonl")
    assert isinstance(b, BatchAPIBroker) and b.batch and b.state_path == tmp_path / "s.jsonl"
    assert b is not get_broker("chat", "gpt-4o-mini@openai")


def test_missing_key_fails_at_once(monkeypatch) -> None:
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        get_broker("chat", "gpt-4o-mini@openai")
    with pytest.raises(ValueError, match="kind"):
        get_broker("vision", "gpt-4o-mini@local")


def test_batch_brokers_with_other_state_files_are_distinct(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("BFNB_OFFLINE", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-one")
    a = get_broker("chat", "gpt-4o-mini@openai", batch=True, state_path=tmp_path / "p1.jsonl")
    b = get_broker("chat", "gpt-4o-mini@openai", batch=True, state_path=tmp_path / "p2.jsonl")
    assert a is not b and a is get_broker("chat", "gpt-4o-mini@openai", batch=True, state_path=tmp_path / "p1.jsonl")
