"""The local server's Batch API: files and batches, in memory and optionally on disk.

OpenAI's Batch API takes a JSONL file of requests, runs it within a window and hands back an
output file; a client must survive waiting, restarts and cancellation.  ``BatchStore`` plays the
provider side for :class:`~bfnb.local.httpserver.LocalServer`: uploads, a batch that moves
``validating → in_progress → finalizing → completed`` after a configurable delay (or ``failed``
with per-line errors, or ``cancelled``), output and error files in OpenAI's line format, and, given
a ``state_dir``, files and batches that outlive the server process (unfinished batches resume).
Answers come from :mod:`bfnb.local.model`, off the event loop thread's critical path.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from bfnb.local import model

__all__ = ["BatchStore"]

_JSON = "application/json"
_ENDPOINTS = {"/v1/chat/completions": model.chat_completion, "/v1/embeddings": model.embedding}
_PURPOSES = ("batch", "batch_output", "fine-tune", "assistants", "user_data", "evals")


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON)


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type=_JSON)


class BatchStore:
    """Files and batches of one local server.

    ``delay`` gives the current ``batch_delay_s``; ``on_done(lines, tokens)`` is told about every
    finished batch (the server counts them in its stats).
    """

    def __init__(
        self, state_dir: str | Path | None, delay: Callable[[], float], on_done: Callable[[int, int], None]
    ) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._delay, self._on_done = delay, on_done
        self._files: dict[str, dict[str, Any]] = {}
        self._contents: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._cancel: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/files", self._file_upload),
            web.get("/v1/files", self._file_list),
            web.get("/v1/files/{id}", self._file_get),
            web.delete("/v1/files/{id}", self._file_delete),
            web.get("/v1/files/{id}/content", self._file_content),
            web.post("/v1/batches", self._batch_create),
            web.get("/v1/batches", self._batch_list),
            web.get("/v1/batches/{id}", self._batch_get),
            web.post("/v1/batches/{id}/cancel", self._batch_cancel),
        ]

    async def aclose(self) -> None:
        """Stop running batches (a restart with the same ``state_dir`` resumes them)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ files

    def _new_file(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        fid = f"file-{uuid.uuid4().hex[:24]}"
        meta: dict[str, Any] = {"id": fid, "object": "file", "bytes": len(content),
                                "created_at": int(time.time()), "filename": filename, "purpose": purpose,
                                "status": "processed", "status_details": None}  # fmt: skip
        self._files[fid], self._contents[fid] = meta, content
        self._save("files", meta, content)
        return meta

    async def _file_upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload, purpose = form.get("file"), str(form.get("purpose") or "")
        if not isinstance(upload, web.FileField):
            return _error(400, "Expected a multipart upload with a 'file' part.")
        if purpose not in _PURPOSES:
            return _error(400, f"Invalid purpose {purpose!r}.")
        return _json(self._new_file(upload.file.read(), upload.filename or "upload.jsonl", purpose))

    def _file_or_404(self, request: web.Request) -> tuple[str, web.Response | None]:
        fid = request.match_info["id"]
        if fid not in self._files:
            return fid, _error(404, f"No such File object: {fid}")
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
            return _error(400, f"Invalid JSON body: {exc}")
        endpoint, fid = body.get("endpoint"), body.get("input_file_id")
        if endpoint not in _ENDPOINTS:
            return _error(400, f"Unsupported endpoint {endpoint!r}; use one of {sorted(_ENDPOINTS)}.")
        if fid not in self._files:
            return _error(400, f"No such File object: {fid}")
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
        with contextlib.suppress(TimeoutError):  # the delay ends early on cancel
            await asyncio.wait_for(cancel.wait(), timeout=self._delay())
        if batch["status"] == "cancelling":
            batch.update(status="cancelled", cancelled_at=int(time.time()))
            return self._save("batches", batch)
        batch.update(status="finalizing", finalizing_at=int(time.time()))
        out, err, usage = await asyncio.to_thread(_run_lines, lines, _ENDPOINTS[batch["endpoint"]], bid)
        self._on_done(len(lines), usage["total_tokens"])
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
            return _error(404, f"No such Batch object: {request.match_info['id']}")
        return _json(batch)

    async def _batch_cancel(self, request: web.Request) -> web.Response:
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, f"No such Batch object: {request.match_info['id']}")
        if batch["status"] not in ("validating", "in_progress"):
            return _error(400, f"Cannot cancel a batch with status {batch['status']!r}.")
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

    def load(self) -> None:
        """Reload files and batches from ``state_dir`` and resume the unfinished ones (loop thread)."""
        if self.state_dir is not None:
            for path in sorted((self.state_dir / "files").glob("*.json")):
                meta = orjson.loads(path.read_bytes())
                self._files[meta["id"]] = meta
                self._contents[meta["id"]] = path.with_suffix(".bin").read_bytes()
            for path in sorted((self.state_dir / "batches").glob("*.json")):
                batch = orjson.loads(path.read_bytes())
                self._batches[batch["id"]] = batch
        for batch in self._batches.values():
            if batch["status"] == "cancelling":
                batch.update(status="cancelled", cancelled_at=int(time.time()))
                self._save("batches", batch)
            elif batch["status"] in ("validating", "in_progress", "finalizing"):
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
            errors.append(
                {
                    "code": "invalid_json_line",
                    "message": "Line is not a JSON object with custom_id, method, url and body.",
                    "param": None,
                    "line": n,
                }
            )
            continue
        if url != endpoint:
            errors.append(
                {
                    "code": "mismatched_endpoint",
                    "message": f"url {url!r} differs from the batch endpoint {endpoint!r}.",
                    "param": "url",
                    "line": n,
                }
            )
        if cid in ids:
            errors.append(
                {
                    "code": "duplicate_custom_id",
                    "message": f"custom_id {cid!r} is used more than once.",
                    "param": "custom_id",
                    "line": n,
                }
            )
        ids.add(cid)
        lines.append({"custom_id": cid, "body": body})
    if not lines and not errors:
        errors.append(
            {
                "code": "empty_file",
                "message": "The input file holds no requests.",
                "param": None,
                "line": None,
            }
        )
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
            out.append(
                orjson.dumps(
                    {
                        "id": f"batch_req_{rid}",
                        "custom_id": line["custom_id"],
                        "response": response,
                        "error": None,
                    }
                )
                + b"\n"
            )
        except model.LocalModelError as exc:
            error = {"message": str(exc), "type": "invalid_request_error", "param": None, "code": None}
            response = {"status_code": 400, "request_id": f"req_{rid}", "body": {"error": error}}
            err.append(
                orjson.dumps(
                    {
                        "id": f"batch_req_{rid}",
                        "custom_id": line["custom_id"],
                        "response": response,
                        "error": None,
                    }
                )
                + b"\n"
            )
    usage = {"input_tokens": tin, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": tout,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": tin + tout}  # fmt: skip
    return out, err, usage
