"""An OpenAI-compatible HTTP server on 127.0.0.1, answering with the built-in local model.

Tests and demos must exercise the same client path a real provider gets (HTTP, headers, status
codes, rate limits, dropped connections, the Batch API) without a network or a key.  This server
runs on aiohttp in its own thread and event loop, so a test or a notebook starts it with one call,
and it is cheap enough per request (orjson, no pydantic, no access log) to measure a client's
throughput rather than its own.  Latency, RPM/TPM limits (token buckets refilled over 60 s, tokens
counted at admission as ``prompt estimate + max_tokens × n`` as OpenAI does), 5xx answers, dropped
connections and bursts of 429 are all configurable, at start and at run time, in process
(``configure``) or over HTTP (``POST /configure``); ``stats()`` / ``GET /stats`` count what was
answered, including bodies answered 200 more than once, which a well-behaved client never causes.

Faults apply to the model endpoints (chat completions, embeddings) only; files and batches always
answer.  The Batch API (``bfnb.local.batches``) runs a batch after ``batch_delay_s`` and can keep files
and batches in a ``state_dir`` across restarts.  Any bearer key is accepted; none is ever logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from bfnb.local import model
from bfnb.local.batches import BatchStore

__all__ = ["LocalServer", "ServerConfig"]

_JSON = "application/json"
_MODEL_PATHS = {"/v1/chat/completions": "chat", "/v1/embeddings": "embedding"}


@dataclass
class ServerConfig:
    """Faults and limits of a :class:`LocalServer` (all changeable at run time)."""

    latency_s: float = 0.0
    rpm: int | None = None
    tpm: int | None = None
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    burst_429: int = 0
    seed: int = 0
    batch_delay_s: float = 0.0
    #: the models served, listed by ``GET /models`` (others answer 404, as a vLLM does); None: any name
    models: list[str] | None = None


class _Bucket:
    """A token bucket holding ``limit`` units, refilled at ``limit / 60`` per second."""

    def __init__(self, limit: int) -> None:
        self.limit, self.rate = limit, limit / 60.0
        self.level, self.t = float(limit), time.monotonic()

    def refill(self, now: float) -> None:
        self.level = min(self.limit, self.level + (now - self.t) * self.rate)
        self.t = now

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` units are available (0 if they are now)."""
        return 0.0 if amount <= self.level else (amount - self.level) / self.rate

    def reset_s(self) -> float:
        return (self.limit - self.level) / self.rate


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1.2s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    return f"{int(seconds // 60)}m{round(seconds % 60):d}s"


def _error(status: int, message: str, kind: str, code: str | None = None, headers: Any = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON, headers=headers)


def _json(data: Any, headers: Any = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type=_JSON, headers=headers)


class LocalServer:
    """OpenAI-compatible server on 127.0.0.1 backed by :mod:`bfnb.local.model`.

    >>> with LocalServer(latency_s=0.01).start() as server:
    ...     url = server.url   # "http://127.0.0.1:PORT/v1"; any bearer key is accepted
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, state_dir: str | Path | None = None, **config: Any
    ) -> None:
        self.host, self.port = host, port
        self.config = ServerConfig()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._rpm: _Bucket | None = None
        self._tpm: _Bucket | None = None
        self._rng = random.Random(0)
        self._burst = 0
        self.batches = BatchStore(state_dir, lambda: self.config.batch_delay_s, self._count_batch)
        self.reset_stats()
        self.configure(**asdict(self.config) | config)

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        """Base URL for an OpenAI client, ending in ``/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def configure(self, **changes: Any) -> LocalServer:
        """Change latency, limits or faults (``ServerConfig`` field names); returns self."""
        names = {f.name for f in fields(ServerConfig)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown server setting(s) {sorted(unknown)}; known: {sorted(names)}")
        for name, value in changes.items():
            setattr(self.config, name, value)
        # New limits start full; a new seed restarts the fault sequence; burst_429 arms N answers.
        if "rpm" in changes:
            self._rpm = _Bucket(self.config.rpm) if self.config.rpm else None
        if "tpm" in changes:
            self._tpm = _Bucket(self.config.tpm) if self.config.tpm else None
        if "seed" in changes:
            self._rng = random.Random(self.config.seed)
        if "burst_429" in changes:
            self._burst = int(self.config.burst_429)
        return self

    def reset_stats(self) -> None:
        """Zero every counter of :meth:`stats`."""
        self._stat = {"requests": 0, "dropped": 0, "answered": 0, "duplicates": 0,
                      "duplicate_answers": 0, "resent_unread": 0, "tokens": 0, "batch_lines": 0,
                      "model_lists": 0}  # fmt: skip
        self._by_status: dict[int, int] = {}
        self._seen: dict[int, int] = {}  # 64-bit body hash -> 200 answers (~100 bytes per body)
        # delivery: an answer is known to have been read once its connection carries a next request
        self._unread: dict[int, int] = {}  # connection -> body hash of its last answer
        self._read: set[int] = set()
        self._dup_bodies: set[int] = set()

    def stats(self) -> dict[str, Any]:
        """Counters since start or :meth:`reset_stats`.

        ``requests`` counts HTTP requests to the model endpoints; ``by_status`` their answers by
        status; ``dropped`` connections closed on purpose; ``answered`` 200 answers; ``bodies``
        distinct bodies answered 200; ``duplicates`` bodies answered 200 again after the client had
        read an earlier answer (its connection carried a next request): a completed call paid
        twice; ``resent_unread`` answers to bodies whose earlier answer the client may never have
        read (it was the last on a connection that then closed: a call in flight when the client
        died); ``duplicate_answers`` every extra 200 answer to a body, whatever the cause; ``tokens`` prompt + completion tokens
        answered (batches included); ``batch_lines`` batch requests run; ``model_lists`` ``GET /models``.
        """
        out: dict[str, Any] = dict(self._stat)
        out["by_status"] = dict(self._by_status)
        out["bodies"] = len(self._seen)
        return out

    def start(self) -> LocalServer:
        """Start serving in a background thread; returns once the socket listens."""
        if self._thread is not None:
            return self
        ready: threading.Event = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        def _run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._astart())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                self._loop.run_until_complete(self._astop())
                self._loop.close()
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._astop())
            self._loop.close()

        self._thread = threading.Thread(target=_run, name=f"bfnb-local-server-{self.port}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._thread else "stopped"
        return f"<LocalServer {self.url} {state} {asdict(self.config)}>"

    # ------------------------------------------------------------------ lifecycle (loop thread)

    async def _astart(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.add_routes([
            web.post("/v1/chat/completions", self._model_call),
            web.post("/v1/embeddings", self._model_call),
            web.get("/v1/models", self._models),
            web.get("/v1/models/{id}", self._models),
            *self.batches.routes(),
            web.get("/stats", self._stats_http),
            web.post("/configure", self._configure_http),
            web.post("/reset_stats", self._reset_http),
        ])  # fmt: skip
        # handler_cancellation: a client that vanishes (killed, cancelled) cancels its request, so an
        # answer it can never receive is not counted as answered
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.batches.load()

    async def _astop(self) -> None:
        await self.batches.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ model endpoints

    def _limit_headers(self) -> dict[str, str]:
        h: dict[str, str] = {}
        for name, bucket in (("requests", self._rpm), ("tokens", self._tpm)):
            if bucket is not None:
                h[f"x-ratelimit-limit-{name}"] = str(bucket.limit)
                h[f"x-ratelimit-remaining-{name}"] = str(int(bucket.level))
                h[f"x-ratelimit-reset-{name}"] = _duration(bucket.reset_s())
        return h

    def _reply(self, status: int, response: web.Response) -> web.Response:
        self._by_status[status] = self._by_status.get(status, 0) + 1
        return response

    def _too_many(self, wait_s: float, message: str) -> web.Response:
        headers = self._limit_headers()
        headers["retry-after"] = str(max(1, int(wait_s + 0.999)))
        headers["retry-after-ms"] = str(max(1, round(wait_s * 1000)))
        return self._reply(429, _error(429, message, "requests", "rate_limit_exceeded", headers))

    async def _model_call(self, request: web.Request) -> web.StreamResponse:
        kind = _MODEL_PATHS[request.path]
        raw = await request.read()
        prev = self._unread.pop(id(request.transport), None)
        if prev is not None:  # the client sent again on this connection: it read the last answer
            self._read.add(prev)
        self._stat["requests"] += 1
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            return self._reply(
                401,
                _error(401, "Missing bearer Authorization header.", "invalid_request_error", "invalid_api_key"),
            )
        try:
            body = orjson.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
        except ValueError as exc:
            return self._reply(400, _error(400, f"Invalid JSON body: {exc}", "invalid_request_error"))
        cfg = self.config
        if cfg.models is not None and body.get("model") not in cfg.models:
            return self._reply(404, _error(404, f"The model {body.get('model')!r} does not exist.",
                                           "invalid_request_error", "model_not_found"))  # fmt: skip
        if self._burst > 0:
            self._burst -= 1
            return self._too_many(0.05, "Rate limit reached (burst). Please try again in 50ms.")
        if self._rpm is not None or self._tpm is not None:
            resp = self._admit(body, kind)
            if resp is not None:
                return resp
        u = self._rng.random()
        if cfg.latency_s:
            await asyncio.sleep(cfg.latency_s)
        if u < cfg.drop_rate:
            self._stat["dropped"] += 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=499)  # never written: the connection is gone
        if u < cfg.drop_rate + cfg.fail_rate:
            status = (500, 502, 503)[int(u * 1e6) % 3]
            return self._reply(
                status,
                _error(status, "The server had an error while processing your request.", "server_error"),
            )
        try:
            answer = model.chat_completion(body) if kind == "chat" else model.embedding(body)
        except model.LocalModelError as exc:
            return self._reply(400, _error(400, str(exc), "invalid_request_error"))
        if request.transport is None or request.transport.is_closing():
            # the client went away (killed, cancelled) while we "thought": it never gets this answer,
            # so it is not counted as answered, and a re-send of the body is not a duplicate
            self._stat["abandoned"] = self._stat.get("abandoned", 0) + 1
            return web.Response(status=499)
        self._count_answer(raw, answer, id(request.transport))
        headers = self._limit_headers()
        headers["x-request-id"] = f"req_{self._stat['requests']:x}"
        return self._reply(200, _json(answer, headers))

    def _admit(self, body: dict[str, Any], kind: str) -> web.Response | None:
        """Take one request and its tokens from the buckets, or answer 429."""
        now = time.monotonic()
        tokens = model.estimate_request_tokens(body, kind)
        waits = []
        for bucket, amount, what in ((self._rpm, 1, "requests"), (self._tpm, tokens, "tokens")):
            if bucket is None:
                continue
            bucket.refill(now)
            if amount > bucket.limit:
                return self._too_many(
                    60.0, f"Request too large: {amount} {what} exceed the limit of {bucket.limit} per minute."
                )
            wait = bucket.wait(amount)
            if wait > 0:
                waits.append((wait, what, bucket.limit, amount, bucket.level))
        if waits:
            wait, what, limit_, amount, level = max(waits)
            return self._too_many(
                wait,
                f"Rate limit reached on {what} per min (RPM/TPM): Limit {limit_}, Used {limit_ - int(level)}, "
                f"Requested {amount}. Please try again in {_duration(wait)}.",
            )
        if self._rpm is not None:
            self._rpm.level -= 1
        if self._tpm is not None:
            self._tpm.level -= tokens
        return None

    def _count_batch(self, lines: int, tokens: int) -> None:
        self._stat["batch_lines"] += lines
        self._stat["tokens"] += tokens

    def _count_answer(self, raw: bytes, answer: dict[str, Any], conn: int) -> None:
        st = self._stat
        st["answered"] += 1
        st["tokens"] += answer["usage"]["total_tokens"]
        key = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")
        seen = self._seen.get(key, 0)
        self._seen[key] = seen + 1
        if seen:
            st["duplicate_answers"] += 1
            if key in self._read:
                if key not in self._dup_bodies:
                    self._dup_bodies.add(key)
                    st["duplicates"] += 1
            else:
                st["resent_unread"] += 1
        self._unread[conn] = key

    async def _models(self, request: web.Request) -> web.Response:
        self._stat["model_lists"] += 1
        served = self.config.models
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "bfnb"}
                for m in (served if served is not None else (model.LOCAL_CHAT_MODEL, model.LOCAL_EMBED_MODEL))]  # fmt: skip
        wanted = request.match_info.get("id")
        if wanted is not None:
            return _json({"id": wanted, "object": "model", "created": 0, "owned_by": "bfnb"})
        return _json({"object": "list", "data": data})

    # ------------------------------------------------------------------ control over HTTP

    async def _stats_http(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.stats(), option=orjson.OPT_NON_STR_KEYS), content_type=_JSON)

    async def _configure_http(self, request: web.Request) -> web.Response:
        try:
            self.configure(**orjson.loads(await request.read()))
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc), "invalid_request_error")
        return _json(asdict(self.config))

    async def _reset_http(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return _json({"ok": True})
