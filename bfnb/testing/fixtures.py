"""The local OpenAI-compatible server as test tooling, for users' tests and bfnb's own.

``local_server(**settings)`` starts a :class:`~bfnb.local.httpserver.LocalServer` for the length of a
``with`` block; ``server_fixture(**settings)`` turns that into a pytest fixture, and ``server`` is
one ready-made (function scope, no faults).  Tests then talk to the server over real HTTP on
127.0.0.1, through the same client path a real provider gets::

    from bfnb.testing.fixtures import server  # noqa: F401  (a pytest fixture)

    def test_my_pipeline(server):
        client = openai.OpenAI(base_url=server.url, api_key="sk-test")
        ...
        assert server.stats()["duplicates"] == 0

pytest is imported only when a fixture is built, so ``local_server`` works without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from bfnb.local.httpserver import LocalServer

#: how long a pytest fixture lives
Scope = Literal["session", "package", "module", "class", "function"]

__all__ = ["LocalServer", "local_server", "server", "server_fixture"]  # noqa: F822 (server: lazy, below)


@contextmanager
def local_server(**settings: Any) -> Iterator[LocalServer]:
    """A started :class:`LocalServer` (``settings`` as its constructor takes), stopped on exit."""
    srv = LocalServer(**settings).start()
    try:
        yield srv
    finally:
        srv.stop()


def server_fixture(*, scope: Scope = "function", **settings: Any) -> Callable[..., Any]:
    """A pytest fixture yielding a started :class:`LocalServer` with these settings.

    >>> slow_server = server_fixture(latency_s=0.05, rpm=600)  # doctest: +SKIP
    """
    import pytest

    @pytest.fixture(scope=scope)
    def _server() -> Iterator[LocalServer]:
        with local_server(**settings) as srv:
            yield srv

    return _server


def __getattr__(name: str) -> Any:
    # Build the default fixture lazily so importing this module never needs pytest.
    if name == "server":
        fixture = server_fixture()
        globals()["server"] = fixture
        return fixture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
