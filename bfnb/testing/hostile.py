"""Small misbehaving HTTP servers on 127.0.0.1, for tests of what a client does when a server is hostile.

Each :class:`HostileServer` answers every request in one named way (:data:`BEHAVIOURS`) and records
what it received, so a test can assert what the client sent (an ``Authorization`` header that must
not have followed a redirect) and how often (a call that must not have been retried).  Switching it
to ``"ok"`` (:meth:`HostileServer.behave`) makes it answer like a plain OpenAI-compatible server, so
the same test can show that a re-run completes once the server is fixed::

    from bfnb.testing import hostile_server

    with hostile_server("silent") as srv:          # accepts, reads the request, never answers
        bf.register_provider("flaky", srv.url, "FLAKY_KEY")
        ...
        assert srv.hits == 1

Behaviours: ``silent``, ``drip`` (200, then one byte per ``drip_s``, forever), ``endless`` (a
body that never ends, sent fast), ``huge`` (a ``Content-Length`` of ``huge_bytes``), ``html`` (200
with a proxy's login page), ``redirect`` (307 to ``redirect_to``; give it another server's URL,
e.g. one on 127.0.0.2, for "another host"), ``retry_after`` (429 with ``Retry-After: 3600``),
``quota`` (429 ``insufficient_quota``), ``echo_key`` (401 whose text echoes the key it got, in
odd casings and encodings), ``empty_choices`` (200 with ``"choices": []``), ``odd_usage`` (a
good answer whose ``usage`` counts are not numbers) and ``ok``.  The servers speak just enough HTTP/1.1 for these cases,
with raw asyncio streams, so that they can break the protocol on purpose.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

__all__ = ["BEHAVIOURS", "HostileServer", "hostile_server"]

BEHAVIOURS = ("silent", "drip", "endless", "huge", "html", "redirect", "retry_after", "quota", "echo_key",
              "empty_choices", "odd_usage", "ok")  # fmt: skip

_PROXY_PAGE = (
    b"<!DOCTYPE html><html><head><title>Corporate Proxy - Sign in required</title></head>"
    b"<body><h1>Please sign in to continue</h1><form action='/login'></form></body></html>"
)


class HostileServer:
    """An HTTP server on ``host`` (a 127.0.0.x address) that answers every request as ``behaviour`` says.

    Parameters
    ----------
    behaviour
        One of :data:`BEHAVIOURS`; change it later with :meth:`behave`.
    host, port
        Where to listen (port 0: any free port).  Only loopback addresses are accepted.
    redirect_to
        Base URL the ``redirect`` behaviour points to (the request's path is kept).
    drip_s, huge_bytes, retry_after
        Seconds between bytes of ``drip``; declared size of ``huge``; seconds of ``retry_after``.
    """

    def __init__(
        self,
        behaviour: str = "ok",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        redirect_to: str | None = None,
        drip_s: float = 0.2,
        huge_bytes: int = 10 * 2**30,
        retry_after: int = 3600,
    ) -> None:
        if not host.startswith("127."):
            raise ValueError(f"a HostileServer listens on loopback only (127.x.y.z), got {host!r}")
        self.behave(behaviour)
        self.host, self.port, self.redirect_to = host, port, redirect_to
        self.drip_s, self.huge_bytes, self.retry_after = drip_s, huge_bytes, retry_after
        self.requests: list[dict[str, Any]] = []  # method, path, headers (lower-case names), body
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- control ----------------------------------------------------------------------------------

    def behave(self, behaviour: str) -> HostileServer:
        """Answer the next requests as ``behaviour``."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; choose one of {', '.join(BEHAVIOURS)}")
        self.behaviour = behaviour
        return self

    @property
    def url(self) -> str:
        """The base URL of an OpenAI-compatible API (``http://host:port/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def hits(self) -> int:
        """Model calls received so far (every request but the free ``GET /models`` listing)."""
        return sum(1 for r in self.requests if not (r["method"] == "GET" and r["path"].endswith("/models")))

    @property
    def listings(self) -> int:
        """``GET /models`` requests received so far (bfnb asks once per endpoint, before any call)."""
        return len(self.requests) - self.hits

    def start(self) -> HostileServer:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._handle, self.host, self.port))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as e:  # reported to start()
                errors.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"bfnb-hostile-{self.behaviour}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        async def shutdown() -> None:
            for t in list(self._tasks):
                t.cancel()
            if self._server is not None:
                self._server.close()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> HostileServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<HostileServer {self.behaviour!r} at {self.url}>"

    # --- serving ----------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                if not await getattr(self, f"_{self.behaviour}")(writer, request):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _silent(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        await asyncio.Event().wait()  # until stop() cancels it
        return False

    async def _drip(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while True:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(self.drip_s)

    async def _endless(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b'{"pad": "' + b"x" * 65536
        line = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while True:
            writer.write(line)
            await writer.drain()

    async def _huge(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {self.huge_bytes}\r\n\r\n".encode()
        )
        while True:
            writer.write(b" " * 65536)
            await writer.drain()

    async def _html(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        return await _respond(writer, 200, _PROXY_PAGE, "text/html; charset=utf-8")

    async def _redirect(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        target = (self.redirect_to or "http://127.0.0.2:9/v1").rstrip("/")
        path = request["path"][len("/v1") :] if request["path"].startswith("/v1") else request["path"]
        return await _respond(writer, 307, b"", "text/plain", {"Location": target + path})

    async def _retry_after(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        body = {"error": {"message": "Rate limit reached. Please try again later.", "type": "requests",
                          "code": "rate_limit_exceeded"}}  # fmt: skip
        return await _respond(writer, 429, json.dumps(body).encode(), headers={"Retry-After": str(self.retry_after)})

    async def _quota(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        body = {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                          "type": "insufficient_quota", "code": "insufficient_quota"}}  # fmt: skip
        return await _respond(writer, 429, json.dumps(body).encode())

    async def _echo_key(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        key = request["headers"].get("authorization", "").removeprefix("Bearer ").strip()
        text = (
            f"Incorrect API key provided: {key}. Also seen as {key.upper()}, {key.lower()}, "
            f"url={quote(key, safe='')}, json={json.dumps({'k': key})}, "
            f"basic={base64.b64encode(('user:' + key).encode()).decode()}, b64={base64.b64encode(key.encode()).decode()}"
        )
        body = {"error": {"message": text, "type": "invalid_request_error", "code": "invalid_api_key", "key": key}}
        return await _respond(writer, 401, json.dumps(body).encode())

    async def _empty_choices(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        body = {"id": "chatcmpl-0", "object": "chat.completion", "model": "m", "choices": [], "usage": {}}
        return await _respond(writer, 200, json.dumps(body).encode())

    async def _odd_usage(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        body = {"id": "chatcmpl-0", "object": "chat.completion", "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": "lots", "completion_tokens": None}}  # fmt: skip
        return await _respond(writer, 200, json.dumps(body).encode())

    async def _ok(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> bool:
        try:
            body = json.loads(request["body"] or b"{}")
        except ValueError:
            body = {}
        if request["path"].endswith("/embeddings"):
            inputs = body.get("input", "")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            data = [{"object": "embedding", "index": i, "embedding": [float(len(str(x))), 1.0]}
                    for i, x in enumerate(inputs)]  # fmt: skip
            answer: dict[str, Any] = {"object": "list", "data": data, "model": body.get("model", "m"),
                                      "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}}  # fmt: skip
        else:
            messages = body.get("messages") or [{"content": ""}]
            content = f"ok: {messages[-1].get('content', '')}"
            answer = {
                "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "m"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            }  # fmt: skip
        return await _respond(writer, 200, json.dumps(answer).encode())


async def _read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = ([*lines[0].split(" ", 2), "", ""])[:3]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(n) if n else b""
    return {"method": method, "path": path, "headers": headers, "body": body}


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> bool:
    reason = {200: "OK", 307: "Temporary Redirect", 401: "Unauthorized", 429: "Too Many Requests"}.get(status, "X")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )
    await writer.drain()
    return True


@contextmanager
def hostile_server(behaviour: str, **settings: Any) -> Iterator[HostileServer]:
    """A started :class:`HostileServer` for the length of a ``with`` block."""
    srv = HostileServer(behaviour, **settings).start()
    try:
        yield srv
    finally:
        srv.stop()
