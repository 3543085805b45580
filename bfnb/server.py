"""``python -m bfnb.server``: run the local OpenAI-compatible server in the foreground.

A thin command line over :class:`bfnb.local.httpserver.LocalServer`, for demos, benchmarks and tests
that need the server in another process (inspect it with ``GET /stats``, change its faults with
``POST /configure``).  Example::

    python -m bfnb.server --port 8765 --latency 0.2 --rpm 30000
    export OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=sk-local
"""

from __future__ import annotations

import argparse
import sys
import threading

from bfnb.local.httpserver import LocalServer, ServerConfig

__all__ = ["LocalServer", "ServerConfig", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bfnb.server", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every model call")
    p.add_argument("--rpm", type=int, default=None, help="requests per minute before 429")
    p.add_argument("--tpm", type=int, default=None, help="tokens per minute before 429")
    p.add_argument("--fail-rate", type=float, default=0.0, help="fraction of calls answered 500/502/503")
    p.add_argument("--drop-rate", type=float, default=0.0, help="fraction of connections dropped unanswered")
    p.add_argument("--burst-429", type=int, default=0, help="answer the next N calls with 429")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault sequence")
    p.add_argument("--batch-delay", type=float, default=0.0, help="seconds a Batch API job stays in progress")
    p.add_argument("--state-dir", default=None, help="folder keeping files and batches across restarts")
    p.add_argument("--models", default=None, help="comma-separated models served and listed (default: any name)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted (Ctrl-C)."""
    a = _parser().parse_args(argv)
    server = LocalServer(
        host=a.host, port=a.port, state_dir=a.state_dir, latency_s=a.latency, rpm=a.rpm, tpm=a.tpm,
        fail_rate=a.fail_rate, drop_rate=a.drop_rate, burst_429=a.burst_429, seed=a.seed,
        batch_delay_s=a.batch_delay, models=a.models.split(",") if a.models else None,
    )  # fmt: skip
    server.start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
