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
answer.  Batches run after ``batch_delay_s`` and may be kept in a ``state_dir`` to survive restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from bfnb.local import model

__all__ = ["LocalServer", "ServerConfig"]

_JSON = "application/json"
_MODEL_PATHS = {"/v1/chat/completions": "chat", "/v1/embeddings": "embed"}
_BATCH_ENDPOINTS = {"/v1/chat/completions": model.chat_completion, "/v1/embeddings": model.embedding}


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

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, state_dir: str | Path | None = None, **config: Any) -> None:
        self.host, self.port = host, port
        self.config = ServerConfig()
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._files: dict[str, dict[str, Any]] = {}
        self._contents: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._cancel: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.reset_stats()
        self.configure(**config)

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
        if {"rpm", "tpm"} & set(changes) or not hasattr(self, "_rpm"):
            self._rpm = _Bucket(self.config.rpm) if self.config.rpm else None
            self._tpm = _Bucket(self.config.tpm) if self.config.tpm else None
        if "seed" in changes or not hasattr(self, "_rng"):
            self._rng = random.Random(self.config.seed)
        if "burst_429" in changes:
            self._burst = int(self.config.burst_429)
        elif not hasattr(self, "_burst"):
            self._burst = int(self.config.burst_429)
        return self

    def reset_stats(self) -> None:
        """Zero every counter of :meth:`stats`."""
        self._stat = {"requests": 0, "dropped": 0, "answered": 0, "duplicates": 0,
                      "duplicate_answers": 0, "tokens": 0, "batch_lines": 0}  # fmt: skip
        self._by_status: dict[int, int] = {}
        self._seen: dict[bytes, int] = {}

    def stats(self) -> dict[str, Any]:
        """Counters since start or :meth:`reset_stats`.

        ``requests`` counts HTTP requests to the model endpoints; ``by_status`` their answers by
        status; ``dropped`` connections closed on purpose; ``answered`` 200 answers; ``bodies``
        distinct bodies answered 200; ``duplicates`` bodies answered 200 more than once and
        ``duplicate_answers`` the extra answers they got; ``tokens`` prompt + completion tokens
        answered (batches included); ``batch_lines`` batch requests run.
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
            web.post("/v1/files", self._file_upload),
            web.get("/v1/files", self._file_list),
            web.get("/v1/files/{id}", self._file_get),
            web.delete("/v1/files/{id}", self._file_delete),
            web.get("/v1/files/{id}/content", self._file_content),
            web.post("/v1/batches", self._batch_create),
            web.get("/v1/batches", self._batch_list),
            web.get("/v1/batches/{id}", self._batch_get),
            web.post("/v1/batches/{id}/cancel", self._batch_cancel),
            web.get("/stats", self._stats_http),
            web.post("/configure", self._configure_http),
            web.post("/reset_stats", self._reset_http),
        ])  # fmt: skip
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._load_state()

    async def _astop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
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
        self._stat["requests"] += 1
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            return self._reply(401, _error(401, "Missing bearer Authorization header.", "invalid_request_error", "invalid_api_key"))
        try:
            body = orjson.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
        except ValueError as exc:
            return self._reply(400, _error(400, f"Invalid JSON body: {exc}", "invalid_request_error"))
        cfg = self.config
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
            return self._reply(status, _error(status, "The server had an error while processing your request.", "server_error"))
        try:
            answer = model.chat_completion(body) if kind == "chat" else model.embedding(body)
        except model.LocalModelError as exc:
            return self._reply(400, _error(400, str(exc), "invalid_request_error"))
        self._count_answer(raw, answer)
        headers = self._limit_headers()
        headers["x-request-id"] = f"req_{self._stat['requests']:x}"
        return self._reply(200, _json(answer, headers))

    def _admit(self, body: dict[str, Any], kind: str) -> web.Response | None:
        """Take one request and its tokens from the buckets, or answer 429."""
        now = time.monotonic()
        if kind == "chat":
            messages = body.get("messages") if isinstance(body.get("messages"), list) else []
            limit = body.get("max_completion_tokens") or body.get("max_tokens") or 0
            tokens = model.estimate_prompt_tokens([m for m in messages if isinstance(m, dict)])
            tokens += int(limit) * int(body.get("n") or 1)
        else:
            raw = body.get("input")
            texts = [raw] if isinstance(raw, str) else (raw if isinstance(raw, list) else [])
            tokens = sum(model.estimate_tokens(t) for t in texts if isinstance(t, str))
        waits = []
        for bucket, amount, what in ((self._rpm, 1, "requests"), (self._tpm, tokens, "tokens")):
            if bucket is None:
                continue
            bucket.refill(now)
            if amount > bucket.limit:
                return self._too_many(60.0, f"Request too large: {amount} {what} exceed the limit of {bucket.limit} per minute.")
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

    def _count_answer(self, raw: bytes, answer: dict[str, Any]) -> None:
        st = self._stat
        st["answered"] += 1
        st["tokens"] += answer["usage"]["total_tokens"]
        key = hashlib.blake2b(raw, digest_size=16).digest()
        seen = self._seen.get(key, 0)
        self._seen[key] = seen + 1
        if seen:
            st["duplicate_answers"] += 1
            if seen == 1:
                st["duplicates"] += 1

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "bfnb"}
                for m in (model.LOCAL_CHAT_MODEL, model.LOCAL_EMBED_MODEL)]  # fmt: skip
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

    # ------------------------------------------------------------------ files

    def _new_file(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        meta = {"id": f"file-{uuid.uuid4().hex[:24]}", "object": "file", "bytes": len(content),
                "created_at": int(time.time()), "filename": filename, "purpose": purpose,
                "status": "processed", "status_details": None}  # fmt: skip
        self._files[meta["id"]], self._contents[meta["id"]] = meta, content
        self._save("files", meta, content)
        return meta

    async def _file_upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload, purpose = form.get("file"), str(form.get("purpose") or "")
        if not isinstance(upload, web.FileField):
            return _error(400, "Expected a multipart upload with a 'file' part.", "invalid_request_error")
        if purpose not in ("batch", "batch_output", "fine-tune", "assistants", "user_data", "evals"):
            return _error(400, f"Invalid purpose {purpose!r}.", "invalid_request_error")
        return _json(self._new_file(upload.file.read(), upload.filename or "upload.jsonl", purpose))

    def _file_or_404(self, request: web.Request) -> tuple[str, web.Response | None]:
        fid = request.match_info["id"]
        if fid not in self._files:
            return fid, _error(404, f"No such File object: {fid}", "invalid_request_error")
        return fid, None

    async def _file_list(self, request: web.Request) -> web.Response:
        return _json({"object": "list", "data": list(self._files.values()), "has_more": False})

    async def _file_get(self, request: web.Request) -> web.Response:
        fid, missing = self._file_or_404(request)
        return missing or _json(self._files[fid])

    async def _file_content(self, request: web.Request) -> web.Response:
        fid, missing = self._file_or_404(request)
        return missing or web.Response(body=self._contents[fid], content_type="application/octet-stream")

    async def _file_delete(self, request: web.Request) -> web.Response:
        fid, missing = self._file_or_404(request)
        if missing:
            return missing
        del self._files[fid], self._contents[fid]
        if self.state_dir is not None:
            for suffix in (".json", ".bin"):
                (self.state_dir / "files" / f"{fid}{suffix}").unlink(missing_ok=True)
        return _json({"id": fid, "object": "file", "deleted": True})

    # ------------------------------------------------------------------ batches

    async def _batch_create(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except ValueError as exc:
            return _error(400, f"Invalid JSON body: {exc}", "invalid_request_error")
        endpoint, fid = body.get("endpoint"), body.get("input_file_id")
        if endpoint not in _BATCH_ENDPOINTS:
            return _error(400, f"Unsupported endpoint {endpoint!r}; use one of {sorted(_BATCH_ENDPOINTS)}.", "invalid_request_error")
        if fid not in self._files:
            return _error(400, f"No such File object: {fid}", "invalid_request_error")
        now = int(time.time())
        batch: dict[str, Any] = {
            "id": f"batch_{uuid.uuid4().hex[:24]}", "object": "batch", "endpoint": endpoint, "errors": None,
            "input_file_id": fid, "completion_window": body.get("completion_window", "24h"),
            "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": now,
            "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None, "completed_at": None,
            "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata"),
        }  # fmt: skip
        self._batches[batch["id"]] = batch
        self._save("batches", batch)
        self._spawn(batch)
        return _json(batch)

    def _spawn(self, batch: dict[str, Any]) -> None:
        self._cancel[batch["id"]] = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._run_batch(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_batch(self, batch: dict[str, Any]) -> None:
        """validating → in_progress → (after batch_delay_s) finalizing → completed, or failed/cancelled."""
        bid, cancel = batch["id"], self._cancel[batch["id"]]
        lines, errors = _parse_batch_file(self._contents.get(batch["input_file_id"], b""), batch["endpoint"])
        if errors:
            batch.update(status="failed", failed_at=int(time.time()), errors={"object": "list", "data": errors})
            return self._save("batches", batch)
        batch.update(status="in_progress", in_progress_at=batch["in_progress_at"] or int(time.time()))
        batch["request_counts"]["total"] = len(lines)
        self._save("batches", batch)
        try:
            await asyncio.wait_for(cancel.wait(), timeout=self.config.batch_delay_s)
        except TimeoutError:
            pass
        if batch["status"] == "cancelling":
            batch.update(status="cancelled", cancelled_at=int(time.time()))
            return self._save("batches", batch)
        batch.update(status="finalizing", finalizing_at=int(time.time()))
        out, err, usage = await asyncio.to_thread(_run_lines, lines, _BATCH_ENDPOINTS[batch["endpoint"]], bid)
        self._stat["batch_lines"] += len(lines)
        self._stat["tokens"] += usage["total_tokens"]
        if out:
            batch["output_file_id"] = self._new_file(b"".join(out), f"{bid}_output.jsonl", "batch_output")["id"]
        if err:
            batch["error_file_id"] = self._new_file(b"".join(err), f"{bid}_error.jsonl", "batch_output")["id"]
        batch["request_counts"].update(completed=len(out), failed=len(err))
        batch.update(status="completed", completed_at=int(time.time()), usage=usage)
        self._save("batches", batch)

    async def _batch_get(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, f"No such Batch object: {request.match_info['id']}", "invalid_request_error")
        return _json(batch)

    async def _batch_cancel(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, f"No such Batch object: {request.match_info['id']}", "invalid_request_error")
        if batch["status"] not in ("validating", "in_progress"):
            return _error(400, f"Cannot cancel a batch with status {batch['status']!r}.", "invalid_request_error")
        batch.update(status="cancelling", cancelling_at=int(time.time()))
        self._cancel[batch["id"]].set()
        self._save("batches", batch)
        return _json(batch)

    async def _batch_list(self, request: web.Request) -> web.Response:
        items = sorted(self._batches.values(), key=lambda b: (b["created_at"], b["id"]), reverse=True)
        after = request.query.get("after")
        if after:
            ids = [b["id"] for b in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        limit = int(request.query.get("limit", 20))
        page = items[:limit]
        return _json({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                      "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit})  # fmt: skip

    # ------------------------------------------------------------------ persistence

    def _save(self, kind: str, meta: dict[str, Any], content: bytes | None = None) -> None:
        if self.state_dir is None:
            return
        folder = self.state_dir / kind
        folder.mkdir(parents=True, exist_ok=True)
        if content is not None:
            (folder / f"{meta['id']}.bin").write_bytes(content)
        tmp = folder / f"{meta['id']}.json.tmp"
        tmp.write_bytes(orjson.dumps(meta))
        tmp.replace(folder / f"{meta['id']}.json")

    def _load_state(self) -> None:
        """Reload files and batches from ``state_dir``; resume batches that had not finished."""
        if self.state_dir is None:
            return
        for path in sorted((self.state_dir / "files").glob("*.json")):
            meta = orjson.loads(path.read_bytes())
            self._files[meta["id"]] = meta
            self._contents[meta["id"]] = path.with_suffix(".bin").read_bytes()
        for path in sorted((self.state_dir / "batches").glob("*.json")):
            batch = orjson.loads(path.read_bytes())
            self._batches[batch["id"]] = batch
            if batch["status"] in ("validating", "in_progress", "finalizing", "cancelling"):
                if batch["status"] == "cancelling":
                    batch.update(status="cancelled", cancelled_at=int(time.time()))
                    self._save("batches", batch)
                    continue
                self._spawn(batch)


def _parse_batch_file(content: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The request lines of a batch input file, or the validation errors that fail the batch."""
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    ids: set[str] = set()
    for n, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
            cid, url, body = line["custom_id"], line.get("url"), line["body"]
        except (ValueError, KeyError, TypeError):
            errors.append({"code": "invalid_json_line", "message": "Line is not a JSON object with custom_id, method, url and body.", "param": None, "line": n})
            continue
        if url != endpoint:
            errors.append({"code": "mismatched_endpoint", "message": f"url {url!r} differs from the batch endpoint {endpoint!r}.", "param": "url", "line": n})
        if cid in ids:
            errors.append({"code": "duplicate_custom_id", "message": f"custom_id {cid!r} is used more than once.", "param": "custom_id", "line": n})
        ids.add(cid)
        lines.append({"custom_id": cid, "body": body})
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "The input file holds no requests.", "param": None, "line": None})
    return lines, errors


def _run_lines(lines: list[dict[str, Any]], fn: Any, bid: str) -> tuple[list[bytes], list[bytes], dict[str, Any]]:
    """Answer every line of a batch: (output lines, error lines, usage)."""
    out: list[bytes] = []
    err: list[bytes] = []
    tin = tout = 0
    for i, line in enumerate(lines):
        rid = f"{bid}-{i}"
        try:
            body = fn(line["body"]) if isinstance(line["body"], dict) else fn({})
            usage = body["usage"]
            tin += usage["prompt_tokens"]
            tout += usage.get("completion_tokens", 0)
            response = {"status_code": 200, "request_id": f"req_{rid}", "body": body}
            out.append(orjson.dumps({"id": f"batch_req_{rid}", "custom_id": line["custom_id"], "response": response, "error": None}) + b"\n")
        except model.LocalModelError as exc:
            response = {"status_code": 400, "request_id": f"req_{rid}",
                        "body": {"error": {"message": str(exc), "type": "invalid_request_error", "param": None, "code": None}}}  # fmt: skip
            err.append(orjson.dumps({"id": f"batch_req_{rid}", "custom_id": line["custom_id"], "response": response, "error": None}) + b"\n")
    usage = {"input_tokens": tin, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": tout,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": tin + tout}  # fmt: skip
    return out, err, usage
