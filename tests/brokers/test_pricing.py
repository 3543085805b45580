"""Price table: known models, snapshot fallbacks, batch discount, unknown is None (never 0)."""

from __future__ import annotations

import pytest

from bfnb.brokers import pricing


@pytest.fixture(autouse=True)
def fresh_table(monkeypatch):
    monkeypatch.setattr(pricing, "_prices", None)  # reload pricing.json; registrations stay in the test


def test_known_models_cost_per_million_tokens():
    assert pricing.cost_usd("gpt-4o-mini", "openai", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert pricing.cost_usd("gpt-4o", "openai", 1000, 500) == pytest.approx((1000 * 2.5 + 500 * 10) / 1e6)
    assert pricing.cost_usd("text-embedding-3-small", "openai", 1_000_000) == pytest.approx(0.02)
    assert pricing.cost_usd("deepseek-r1-671b", "lambda", 1_000_000, 1_000_000) == pytest.approx(0.54 + 2.18)
    for m in ("gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini",
              "text-embedding-3-large", "text-embedding-ada-002", "deepseek-chat"):  # fmt: skip
        assert pricing.lookup_price(m, "openai" if not m.startswith("deepseek") else "deepseek") is not None, m


def test_batch_is_half_price_for_openai_models():
    full = pricing.cost_usd("gpt-4o-mini", "openai", 10_000, 2_000)
    assert pricing.cost_usd("gpt-4o-mini", "openai", 10_000, 2_000, batch=True) == pytest.approx(full / 2)


def test_dated_snapshots_and_vendor_prefixes_fall_back_to_the_base_model():
    assert pricing.lookup_price("gpt-4o-mini-2024-07-18", "openai") == pricing.lookup_price("gpt-4o-mini", "openai")
    assert pricing.lookup_price("o3-mini-2025-01-31", "openai").input_per_1m == 1.10
    assert pricing.lookup_price("gpt-4o-2024-05-13", "openai").input_per_1m == 5.0  # its own entry wins
    assert pricing.lookup_price("openai/gpt-4o-mini", "openrouter").output_per_1m == 0.60
    assert pricing.lookup_price("gpt-4o-mini@openai") == pricing.lookup_price("gpt-4o-mini", "openai")


def test_unknown_price_is_none_never_zero():
    assert pricing.cost_usd("mystery-model", "openai", 1000, 1000) is None
    assert pricing.cost_usd("llama3.1-8b-instruct", "groq", 10, 10) is None  # priced only at lambda
    assert pricing.format_cost(None) == "unknown"


def test_local_and_self_hosted_models_are_free():
    assert pricing.cost_usd("local-chat", "local", 10**6, 10**6) == 0.0
    assert pricing.cost_usd("gpt-4o", "local", 10**6, 10**6) == 0.0  # offline stand-in for gpt-4o
    assert pricing.cost_usd("qwen2.5:7b", "ollama", 10**6, 10**6) == 0.0
    assert pricing.cost_usd("local-embed", "openai", 10**6) == 0.0


def test_register_price_adds_and_overrides():
    p = pricing.register_price("my-model", "myproxy", input_per_1m=2.0, output_per_1m=6.0)
    assert pricing.cost_usd("my-model", "myproxy", 500_000, 500_000) == pytest.approx(4.0)
    assert pricing.cost_usd("my-model", "myproxy", 500_000, 500_000, batch=True) == pytest.approx(2.0)
    assert pricing.cost_usd("my-model", "other", 1, 1) is None  # bound to its provider
    pricing.register_price("gpt-4o-mini", input_per_1m=1.0, output_per_1m=1.0, batch_discount=0.0)
    assert pricing.cost_usd("gpt-4o-mini", "openai", 10**6, 0, batch=True) == pytest.approx(1.0)
    assert p.key == "my-model@myproxy"
    with pytest.raises(ValueError, match="fraction"):
        pricing.register_price("x", input_per_1m=1, batch_discount=2)


def test_format_cost():
    assert pricing.format_cost(0) == "$0.00"
    assert pricing.format_cost(1234.5) == "$1,234.50"
    assert pricing.format_cost(0.0123) == "$0.0123"
    assert pricing.format_cost(0.000015) == "$0.000015"
