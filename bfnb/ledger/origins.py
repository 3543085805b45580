"""Which op entry asked for which call, run after run, so a cache miss can be explained.

``origins.jsonl`` sits beside ``calls.jsonl``.  Each op run appends one line per batch it
dispatched: ``{"op": label, "run": run_id, "t": unix time, "idx": [...], "key": [...]}``, holding
only the entries whose key differs from the last one recorded for that op and idx, so re-running
an unchanged graph adds one short line, not a million.  ``previous_keys`` replays the log to find,
for each idx, the key it had before a given run; the executor's ``g.explain()`` loads both
requests from the ledger and :func:`diff_requests` says, in the user's words, what changed.

Writes use the same locked, torn-tail-safe append as the ledger.  Two processes recording the same
op at the same moment may each skip an entry the other changed; explain is then one run stale.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from ..keys import SECRET_FIELDS
from .appendlog import AppendLog

__all__ = ["ORIGINS_FILE", "Origins", "diff_requests"]

ORIGINS_FILE = "origins.jsonl"


class Origins:
    """The origins log of the ledger folder ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        self._log = AppendLog(Path(folder) / ORIGINS_FILE, loss="g.explain() has no history for them")
        self._lock = threading.RLock()
        self._end = 0
        self._events: dict[str, list[tuple[str, list[str], list[str]]]] = {}  # op -> (run, idxs, keys)
        self._latest: dict[str, dict[str, str]] = {}  # op -> idx -> key

    def _apply(self, ev: Mapping[str, Any]) -> None:
        op, idxs, keys = ev["op"], ev["idx"], ev["key"]
        self._events.setdefault(op, []).append((ev["run"], idxs, keys))
        self._latest.setdefault(op, {}).update(zip(idxs, keys, strict=True))

    def refresh(self) -> None:
        """Read lines appended (by any process) since the last look."""
        with self._lock:
            if self._log.size() == self._end:
                return
            end = self._log.complete_end(self._end)
            if end > self._end:
                self._ingest(self._end, end)

    def _ingest(self, start: int, stop: int) -> None:
        for line in b"".join(block for _, block in self._log.blocks(start, stop)).splitlines():
            try:
                self._apply(orjson.loads(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a damaged line: its entries just have no history
        self._end = stop

    def record_origins(self, op_label: str, run_id: str, idxs: Iterable[str], keys: Iterable[str]) -> int:
        """Remember that op ``op_label`` asked, in run ``run_id``, for ``keys[i]`` at ``idxs[i]``.

        Returns how many entries changed key since the last record for this op.
        """
        idxs, keys = list(idxs), list(keys)
        if len(idxs) != len(keys):
            raise ValueError(f"record_origins got {len(idxs)} idxs but {len(keys)} keys")
        with self._lock:
            self.refresh()
            latest = self._latest.get(op_label, {})
            changed = [(i, k) for i, k in zip(idxs, keys, strict=True) if latest.get(i) != k]
            seen = any(run == run_id for run, _, _ in self._events.get(op_label, ())[-1:])
            if not changed and seen:
                return 0
            ev = {
                "op": op_label,
                "run": run_id,
                "t": time.time(),
                "idx": [i for i, _ in changed],
                "key": [k for _, k in changed],
            }
            line = orjson.dumps(ev) + b"\n"
            at = self._log.append(line, self._end)
            if at > self._end:  # another process wrote meanwhile: read its lines first
                self._ingest(self._end, at)
            self._apply(ev)
            self._end = at + len(line)
            return len(changed)

    def previous_keys(self, op_label: str, idxs: Iterable[str], *, before_run: str | None = None) -> dict[str, str]:
        """For each idx, the most recent key recorded for it before run ``before_run``.

        With ``before_run=None`` (or a run that recorded nothing for this op), the most recent
        key recorded at all.  Idxs never recorded are left out.
        """
        idxs = list(idxs)
        with self._lock:
            self.refresh()
            events = self._events.get(op_label, [])
            stop = next((n for n, (run, _, _) in enumerate(events) if run == before_run), None)
            if stop is None:
                state = self._latest.get(op_label, {})
                return {i: state[i] for i in idxs if i in state}
            wanted, out = set(idxs), {}
            for _, ev_idxs, ev_keys in events[:stop]:
                for i, k in zip(ev_idxs, ev_keys, strict=True):
                    if i in wanted:
                        out[i] = k
            return {i: out[i] for i in idxs if i in out}

    def close(self) -> None:
        self._log.close()


# --- what changed between two requests ---------------------------------------------------------

_NAMES = {
    "model": "model",
    "system": "system prompt",
    "prompt": "prompt text",
    "input": "input text",
    "response_format": "response schema",
    "json_schema": "response schema",
    "tools": "tools",
    "functions": "tools",
    "tool_choice": "tool choice",
}
_ORDER = ["model", "system prompt", "prompt text", "conversation history", "message details", "input text"]
_ORDER += ["response schema", "tools", "tool choice"]
_SYSTEM_ROLES = ("system", "developer")
_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (ValueError, TypeError):  # numpy arrays and the like: compare their JSON
        try:
            opt = orjson.OPT_SERIALIZE_NUMPY
            return orjson.dumps(a, option=opt) == orjson.dumps(b, option=opt)
        except TypeError:
            return False


def _message_changes(old: Any, new: Any) -> set[str]:
    if not (isinstance(old, list) and isinstance(new, list)):
        return {"prompt text"}

    def split(msgs: list[Any]) -> tuple[list[Any], list[Any]]:
        sys_: list[Any] = []
        rest: list[Any] = []
        for m in msgs:
            role = m.get("role") if isinstance(m, dict) else None
            (sys_ if role in _SYSTEM_ROLES else rest).append(m)
        return sys_, rest

    (old_sys, old_rest), (new_sys, new_rest) = split(old), split(new)
    out = set()
    if not _same([_content(m) for m in old_sys], [_content(m) for m in new_sys]):
        out.add("system prompt")
    if [_role(m) for m in old_rest] != [_role(m) for m in new_rest]:
        out.add("conversation history")
    else:
        for a, b in zip(old_rest, new_rest, strict=True):
            if not _same(_content(a), _content(b)):
                out.add("prompt text" if _role(a) == "user" else "conversation history")
    if len(old) == len(new) and not all(_same(_details(a), _details(b)) for a, b in zip(old, new, strict=True)):
        out.add("message details")
    return out


def _details(m: Any) -> Any:
    """A message's fields other than role and content (name, tool calls, ...)."""
    return {k: v for k, v in m.items() if k not in ("role", "content")} if isinstance(m, dict) else None


def _role(m: Any) -> Any:
    return m.get("role") if isinstance(m, dict) else None


def _content(m: Any) -> Any:
    return m.get("content") if isinstance(m, dict) else m


def diff_requests(old_request: Mapping[str, Any], new_request: Mapping[str, Any]) -> list[str]:
    """What differs between two request bodies, in user words; [] when they are the same.

    >>> diff_requests({"model": "a", "temperature": 0.2}, {"model": "b", "temperature": 0.7})
    ['model', 'parameter temperature']
    """
    changes: set[str] = set()
    names = list(old_request) + [k for k in new_request if k not in old_request]
    for name in names:
        if name in SECRET_FIELDS:
            continue
        a, b = old_request.get(name, _MISSING), new_request.get(name, _MISSING)
        if _same(a, b):
            continue
        if name == "messages":
            changes |= _message_changes(a, b)
        else:
            changes.add(_NAMES.get(name, f"parameter {name}"))
    rank = {c: n for n, c in enumerate(_ORDER)}
    return sorted(changes, key=lambda c: (rank.get(c, len(rank)), c))
