"""model@provider resolution: endpoints, keys (never shown), offline mode."""

from __future__ import annotations

import pytest

from bfnb.brokers import providers as P
from bfnb.errors import BrokerError, MissingAPIKeyError

SECRET = "sk-proj-SECRET1234567890"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in (
        "BFNB_OFFLINE",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "DEEPSEEK_API_KEY",
        "VLLM_API_KEY",
        "VLLM_BASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(P, "_REGISTRY", dict(P._REGISTRY))  # register_provider in a test stays in it


def test_parse_model_splits_at_the_last_at():
    assert P.parse_model("gpt-4o-mini@openai") == ("gpt-4o-mini", "openai")
    assert P.parse_model("meta-llama/Llama-3.3-70B@Together") == ("meta-llama/Llama-3.3-70B", "together")


@pytest.mark.parametrize("bad", ["gpt-4o-mini", "@openai", "gpt-4o@", ""])
def test_model_without_provider_shows_the_expected_form(bad):
    with pytest.raises(P.ModelStringError, match="gpt-4o-mini@openai") as err:
        P.parse_model(bad)
    assert isinstance(err.value, BrokerError) and isinstance(err.value, ValueError)


def test_unknown_provider_lists_the_known_ones():
    with pytest.raises(P.ModelStringError, match=r"unknown provider 'nowhere'.*openai.*register_provider"):
        P.resolve("m@nowhere")


def test_missing_key_fails_at_once_naming_the_variable_and_the_offline_way():
    with pytest.raises(MissingAPIKeyError) as err:
        P.resolve("gpt-4o-mini@openai")
    msg = str(err.value)
    assert "export OPENAI_API_KEY=..." in msg
    assert "BFNB_OFFLINE=1" in msg and "bf.options.offline = True" in msg and "'gpt-4o-mini@local'" in msg
    with pytest.raises(MissingAPIKeyError, match="DEEPSEEK_API_KEY"):
        P.resolve("deepseek-chat@deepseek")


def test_key_and_default_base_url_are_resolved(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    r = P.resolve("gpt-4o-mini@openai")
    assert (r.model, r.provider.name, r.base_url, r.api_key) == (
        "gpt-4o-mini",
        "openai",
        "https://api.openai.com/v1",
        SECRET,
    )
    assert r.model_string == "gpt-4o-mini@openai" and not r.offline
    lam = P.get_provider("lambda")
    assert (lam.base_url, lam.api_key_env) == ("https://api.lambdalabs.com/v1", "LAMBDA_API_KEY")


def test_openai_base_url_env_is_honoured(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8765/v1/")
    assert P.resolve("gpt-4o-mini@openai").base_url == "http://127.0.0.1:8765/v1"


def test_key_never_appears_in_repr_or_str(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    r = P.resolve("gpt-4o-mini@openai")
    for text in (repr(r), str(r), f"{r}", repr([r]), repr(r.provider)):
        assert SECRET not in text and "SECRET" not in text
    assert "api_key='***'" in repr(r)
    p = P.register_provider("gateway", "https://gw.example/v1", "GW_KEY", extra_headers={"X-Token": SECRET})
    assert SECRET not in repr(p) and "X-Token" in repr(p)


@pytest.mark.parametrize("value", ["1", "true", "TRUE"])
def test_offline_env_answers_every_model_with_the_local_model(monkeypatch, value):
    monkeypatch.setenv("BFNB_OFFLINE", value)
    r = P.resolve("gpt-4o-mini@openai")  # no key needed
    assert r.offline and r.provider.name == "local" and r.provider.in_process
    assert r.model == "gpt-4o-mini" and r.requested_provider == "openai" and r.api_key is None
    assert r.model_string == "gpt-4o-mini@openai"
    monkeypatch.setenv("BFNB_OFFLINE", "0")
    with pytest.raises(MissingAPIKeyError):
        P.resolve("gpt-4o-mini@openai")


def test_offline_argument_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("BFNB_OFFLINE", "1")
    with pytest.raises(MissingAPIKeyError):
        P.resolve("gpt-4o-mini@openai", offline=False)
    monkeypatch.delenv("BFNB_OFFLINE")
    assert P.resolve("gpt-4o-mini@openai", offline=True).offline


def test_bf_options_offline_switches_resolution_to_the_local_model(monkeypatch):
    from bfnb.options import options

    monkeypatch.setenv("BFNB_OFFLINE", "0")  # restored after the test, whatever the setter writes
    assert not P.is_offline()
    options.offline = True
    assert P.is_offline() and P.resolve("gpt-4o-mini@openai").offline


def test_builtin_local_model_needs_no_key_or_http():
    r = P.resolve("local-chat@local")
    assert r.provider.in_process and r.provider.kind == "local" and r.api_key is None and not r.offline


def test_local_servers_have_optional_keys(monkeypatch):
    r = P.resolve("qwen2.5@ollama")
    assert r.base_url == "http://127.0.0.1:11434/v1" and r.api_key == P.LOCAL_DUMMY_KEY
    assert P.resolve("m@lmstudio").base_url == "http://127.0.0.1:1234/v1"
    assert P.resolve("m@vllm").base_url == "http://127.0.0.1:8000/v1"
    monkeypatch.setenv("VLLM_API_KEY", "token-abc")
    monkeypatch.setenv("VLLM_BASE_URL", "http://127.0.0.1:9000/v1")
    r = P.resolve("m@vllm")
    assert (r.api_key, r.base_url) == ("token-abc", "http://127.0.0.1:9000/v1")


def test_register_provider_adds_an_endpoint(monkeypatch):
    P.register_provider("MyProxy", "http://127.0.0.1:9999/v1/", "MYPROXY_KEY")
    assert "myproxy" in P.providers()
    with pytest.raises(MissingAPIKeyError, match="MYPROXY_KEY"):
        P.resolve("x@myproxy")
    monkeypatch.setenv("MYPROXY_KEY", "k")
    r = P.resolve("x@MyProxy")
    assert (r.base_url, r.api_key, r.provider.kind) == ("http://127.0.0.1:9999/v1", "k", "remote")
    keyless = P.register_provider("open", "http://127.0.0.1:7000/v1")
    assert not keyless.key_required and P.resolve("x@open").api_key == P.LOCAL_DUMMY_KEY
    with pytest.raises(P.ModelStringError):
        P.register_provider("a@b", "http://x")


def test_every_builtin_provider_is_registered():
    expected = {"openai", "deepseek", "together", "groq", "openrouter", "lambda", "fireworks", "mistral",
                "vllm", "ollama", "lmstudio", "local"}  # fmt: skip
    assert expected <= set(P.providers())
    for name in expected - {"local"}:
        p = P.get_provider(name)
        assert p.base_url.endswith("/v1") and p.api_key_env.endswith("_API_KEY")
        assert (p.kind == "local") == (name in {"vllm", "ollama", "lmstudio"})
