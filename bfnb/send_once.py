"""Pay once across processes: claim before sending, re-check before each job goes out, wait for others.

The call client (:mod:`bfnb.calls`) hands this module the jobs its ledger lookup left missing.
Two kernels, a script beside a notebook, or (later) Ray workers running the same requests on one
project must pay for each once.  So, with the ledger's :class:`~bfnb.ledger.claims.ClaimStore`:

1. **Claim** every missing key in one batch (one line in ``claims.jsonl``), then re-read the
   ledger for the keys granted: another process may have answered and released them between our
   lookup and our claim.
2. **Send** the granted jobs through the broker with a *gate* asked right before each job goes out
   (after queueing, rate limiting and backoff): if the ledger now has an answer, or our claim was
   lost (a lease that could not be renewed), the job is not sent.
3. **Renew** our claims every third of the lease (default 30 s) from a small thread, so a slow call
   or a long queue is never taken over by a waiting process.
4. **Wait** for keys another live process holds: say so once ("waiting for N calls …"), poll the
   ledger for their answers, and claim whatever their owner gives up (it died: a dead process on
   this host frees its claims at once; elsewhere when its lease runs out) to send it ourselves.
5. **Release** our claims once the records are in the ledger.

Claims are only written for endpoints that pay (not the built-in local model, not a person).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .ledger.records import CallRecord, Status

__all__ = ["DEFAULT_LEASE_S", "POLL_S", "say_on_stderr", "send_once"]

DEFAULT_LEASE_S = 30.0
#: how often a process waiting on another's claims looks at the ledger again
POLL_S = 0.1


class _Renewer:
    """Renews this owner's claims every ``lease_s / 3`` until stopped; remembers keys it lost."""

    def __init__(self, store: Any, lease_s: float) -> None:
        self.store, self.lease_s = store, lease_s
        self.keys: set[str] = set()
        self.lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, keys: list[str]) -> None:
        with self._lock:
            self.keys.update(keys)
            self.lost.difference_update(keys)  # claimed again
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="bfnb-claims", daemon=True)
            self._thread.start()

    def remove(self, keys: list[str]) -> None:
        with self._lock:
            self.keys.difference_update(keys)

    def _loop(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                keys = list(self.keys)
            if not keys:
                continue
            try:
                kept = set(self.store.renew(keys, self.lease_s))
            except Exception:  # a renewal that fails leaves the lease to run; the gate stops a send
                continue
            with self._lock:
                self.lost.update(k for k in keys if k not in kept and k in self.keys)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def send_once(
    jobs: dict[str, Any],
    ledger: Any,
    send: Callable[[list[Any], Callable[[str], bool]], Any],
    *,
    lease_s: float = DEFAULT_LEASE_S,
    say: Callable[[str], None] | None = None,
) -> tuple[dict[str, CallRecord], dict[str, CallRecord]]:
    """Get a record for each of ``jobs`` (by key), sending only what no other process is sending.

    ``send(jobs, gate)`` runs the broker and returns its ``RunResult``.  Returns ``(sent, waited)``:
    the records this process paid for, and those another process answered while we waited.  Keys
    in neither were left unsent (cancelled, budget, or an error stopped the run).
    """
    store = ledger.claims
    todo = dict(jobs)
    sent: dict[str, CallRecord] = {}
    waited: dict[str, CallRecord] = {}
    waiting_on: set[str] = set()
    renewer = _Renewer(store, lease_s)
    said = False
    try:
        while todo:
            granted, held = store.acquire(list(todo), lease_s)
            if granted:
                renewer.add(granted)
                answered = _answers(ledger, granted, accept_failed=waiting_on)
                for k, rec in answered.items():
                    waited[k] = rec
                    todo.pop(k, None)
                go = [todo[k] for k in granted if k in todo]
                if go:
                    result = send(go, _gate(ledger, renewer))
                    for k, rec in result.items():
                        sent[k] = rec
                        todo.pop(k, None)
                    renewer.remove(granted)
                    store.release(granted)
                    if result.stopped is not None:  # cancelled, over budget, or the ledger failed
                        return sent, waited
                    for k, rec in _answers(ledger, list(result.unsent), accept_failed=set(result.unsent)).items():
                        waited[k] = rec
                        todo.pop(k, None)
                else:
                    renewer.remove(granted)
                    store.release(granted)
            held_keys = [k for k in held if k in todo]
            if not held_keys:
                continue
            waiting_on.update(held_keys)
            if not said and say is not None:
                owners = sorted({c.owner for c in held.values()})
                say(f"waiting for {len(held_keys):,} calls another process is sending ({', '.join(owners[:3])})")
                said = True
            deadline = time.monotonic() + POLL_S
            while True:  # until one of the held keys is answered or its claim is given up
                answered = _answers(ledger, held_keys, accept_failed=waiting_on)
                for k, rec in answered.items():
                    waited[k] = rec
                    todo.pop(k, None)
                if answered or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_S / 4)
    finally:
        renewer.stop()
        if renewer.keys:
            store.release(list(renewer.keys))
    return sent, waited


def _answers(ledger: Any, keys: list[str], *, accept_failed: set[str]) -> dict[str, CallRecord]:
    """Records now in the ledger for ``keys`` (re-read from disk): done ones, and failed ones
    for keys another process tried while we waited (its try counts; we do not pay again)."""
    if not keys:
        return {}
    out = {}
    for k, r in zip(keys, ledger.get_many(keys, refresh=True), strict=True):
        if r is not None and (r.status == Status.DONE or k in accept_failed):
            out[k] = r
    return out


def _gate(ledger: Any, renewer: _Renewer) -> Callable[[str], bool]:
    """Right before a job goes out: still unanswered in the ledger, and still ours."""

    others_wrote = False

    def gate(key: str) -> bool:
        nonlocal others_wrote
        if key in renewer.lost:
            return False
        # one fstat: only when another process appended since we claimed is the key looked up
        others_wrote = ledger.refresh() > 0 or others_wrote
        if not others_wrote:
            return True
        rec = ledger.get_many([key], refresh=False)[0]
        return rec is None or rec.status != Status.DONE

    return gate


def say_on_stderr(text: str) -> None:
    """The default way a waiting process says what it waits on."""
    print(f"bfnb: {text}", file=sys.stderr, flush=True)
