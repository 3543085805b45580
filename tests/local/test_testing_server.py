"""bfnb.testing.fixtures: the local server as a context manager and as pytest fixtures."""

from __future__ import annotations

import openai
import pytest

from bfnb.testing.fixtures import LocalServer, local_server, server, server_fixture  # noqa: F401

limited_server = server_fixture(rpm=2)


def test_default_fixture_is_a_running_server(server):
    assert isinstance(server, LocalServer)
    with openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0) as client:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi there"}])
    assert server.stats()["answered"] == 1


def test_fixture_factory_passes_settings(limited_server):
    with openai.OpenAI(base_url=limited_server.url, api_key="sk-test", max_retries=0) as client:
        for i in range(2):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"poem {i}"}])
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "poem 3"}])
    assert err.value.response.headers["x-ratelimit-limit-requests"] == "2"


def test_local_server_stops_on_exit():
    with local_server(latency_s=0.0) as srv:
        url = srv.url
        assert "running" in repr(srv)
    assert "stopped" in repr(srv)
    with (
        openai.OpenAI(base_url=url, api_key="sk-test", max_retries=0, timeout=5) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.models.list()
