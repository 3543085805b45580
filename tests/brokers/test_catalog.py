"""An unknown model is found before the first request: bfnb's catalog, or the endpoint's GET /models."""

from __future__ import annotations

import threading

import pytest

import bfnb as bf
from bfnb.before_paying import check_model
from bfnb.brokers import catalog, pricing
from bfnb.brokers import providers as P
from bfnb.calls import resolve_endpoint
from bfnb.local.httpserver import LocalServer
from bfnb.op import AskLLM, EmbedText, FromList
from bfnb.testing import hostile_server

ROWS = [{"w": "sea"}, {"w": "moon"}]


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(P, "_REGISTRY", dict(P._REGISTRY))  # a provider registered here stays here


def ask(model: str) -> bf.Graph:
    return bf.Graph() | FromList(ROWS) | AskLLM("About {w}", model=model)


def test_a_misspelt_model_of_a_known_provider_fails_before_anything_is_sent(server):
    with pytest.raises(bf.UnknownModelError) as e:
        ask("gpt-4o-mimi@openai").run()
    msg = str(e.value)
    assert "AskLLM" in msg and "'model'" in msg and "gpt-4o-mimi" in msg
    assert "gpt-4o-mini" in msg.split("close names:")[1]  # difflib's nearest names
    assert "bf.options.unlisted_models.add('gpt-4o-mimi@openai')" in msg and "register_price" in msg
    assert server.stats()["requests"] == 0  # no model call (its list may be asked: OPENAI_BASE_URL points here)
    out = ask("gpt-4o-mini@openai").run()
    assert out["status"].tolist() == ["done", "done"] and server.stats()["requests"] == 2


def test_an_embedding_model_is_checked_too(server):
    g = bf.Graph() | FromList(ROWS) | EmbedText("w", model="text-embeding-3-small@openai")
    with pytest.raises(bf.UnknownModelError, match="text-embedding-3-small"):
        g.run()
    assert server.stats()["requests"] == 0


def test_an_unlisted_model_is_sent_once_allowed_or_priced(server, monkeypatch):
    with pytest.raises(bf.UnknownModelError):
        ask("gpt-9-preview@openai").run()
    monkeypatch.setattr(bf.options, "unlisted_models", {"gpt-9-preview@openai"})
    assert ask("gpt-9-preview@openai").run()["status"].tolist() == ["done", "done"]
    monkeypatch.setattr(pricing, "_prices", dict(pricing._table()))  # the price registered here stays here
    bf.register_price("gpt-10", "openai", input_per_1m=1.0, output_per_1m=2.0)
    assert ask("gpt-10@openai").run()["status"].tolist() == ["done", "done"]  # a registered price lists it
    assert server.stats()["requests"] == 4


def test_openai_pointed_at_another_server_also_accepts_what_that_server_lists(monkeypatch):
    """OPENAI_BASE_URL at a vLLM or a gateway: its own models are real names there, others are not."""
    with LocalServer(models=["meta-llama/Llama-3.1-8B-Instruct"]).start() as srv:
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        assert ask("meta-llama/Llama-3.1-8B-Instruct@openai").run()["status"].tolist() == ["done", "done"]
        with pytest.raises(bf.UnknownModelError, match=r"Llama-3\.1-8B-Instruct"):
            ask("meta-llama/Llama-3.1-8B-Instrct@openai").run()
        assert srv.stats()["requests"] == 2 and srv.stats()["model_lists"] == 1  # listed once, misspelt: unsent


def test_dated_snapshots_and_vendor_prefixes_of_a_listed_model_pass(server):
    for model in (
        "gpt-4o-mini-2024-07-18@openai",
        "openai/gpt-4o-mini@openai",
        "ft:gpt-4o-mini-2024-07-18:acme::x1@openai",
    ):
        assert ask(model).run()["status"].tolist() == ["done", "done"]


def test_offline_a_misspelt_name_is_caught_from_the_catalog_without_a_network():
    with pytest.raises(bf.UnknownModelError, match="gpt-4o-mini"):
        ask("gpt-4o-mimi@openai").run()
    assert ask("gpt-4o-mini@openai").run()["status"].tolist() == ["done", "done"]
    assert ask("any-name-at-all@local").run()["status"].tolist() == ["done", "done"]  # the stand-in model


def test_an_endpoint_without_a_catalog_is_asked_for_its_list_once(registry, monkeypatch):
    with LocalServer(models=["served-model"]).start() as srv:
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("MINE_KEY", "sk-mine")
        bf.register_provider("mine", srv.url, "MINE_KEY")
        with pytest.raises(bf.UnknownModelError) as e:
            ask("servd-model@mine").run()
        assert "served-model" in str(e.value) and "GET " in str(e.value)
        assert srv.stats()["requests"] == 0 and srv.stats()["model_lists"] == 1
        assert ask("served-model@mine").run()["status"].tolist() == ["done", "done"]
        assert ask("served-model@mine").run()["status"].tolist() == ["done", "done"]  # memo; and a new run:
        assert (bf.Graph() | FromList([{"w": "sun"}]) | AskLLM("On {w}", model="served-model@mine")).run()[
            "status"
        ].tolist() == ["done"]
        assert srv.stats()["model_lists"] == 1  # once per endpoint per process
        assert srv.stats()["requests"] == 3


def _check_in_thread(endpoint: object, deadline_s: float) -> list[object]:
    """Run the check on a thread and wait for it at most ``deadline_s`` (the test must not hang)."""
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(check_model(endpoint, "AskLLM")), daemon=True)
    t.start()
    t.join(deadline_s)
    return out


def test_a_silent_endpoint_is_not_checked_and_costs_at_most_the_listing_deadline(registry, monkeypatch):
    assert catalog.LIST_DEADLINE_S <= 3
    with hostile_server("silent") as srv:  # accepts, reads the request, never answers
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("QUIET_KEY", "sk-quiet")
        bf.register_provider("quiet", srv.url, "QUIET_KEY")
        ep = resolve_endpoint("chat", "no-such-model@quiet")
        assert _check_in_thread(ep, catalog.LIST_DEADLINE_S + 10) == [None]  # skipped: it cannot tell
        assert srv.listings == 1 and srv.hits == 0
        assert _check_in_thread(ep, 1.0) == [None]  # remembered: no second wait
        assert srv.listings == 1


def test_an_endpoint_that_lists_nothing_or_errs_is_not_checked(registry, monkeypatch):
    with hostile_server("html") as srv:  # a proxy's login page instead of a list
        monkeypatch.delenv("BFNB_OFFLINE")
        monkeypatch.setenv("PROXY_KEY", "sk-proxy")
        bf.register_provider("proxy", srv.url, "PROXY_KEY")
        assert check_model(resolve_endpoint("chat", "m@proxy"), "AskLLM") is None
        assert srv.listings == 1 and srv.hits == 0


def test_the_catalog_belongs_to_the_providers_bfnb_knows():
    assert "gpt-4o-mini" in (catalog.catalog("openai") or ())
    assert "deepseek-chat" in (catalog.catalog("deepseek") or ())
    assert "hermes-3-llama-3.1-405b-fp8" in (catalog.catalog("lambda") or ())
    assert "deepseek-chat" not in (catalog.catalog("openai") or ())
    assert catalog.catalog("groq") is None and catalog.catalog("local") is None and catalog.catalog("vllm") is None
