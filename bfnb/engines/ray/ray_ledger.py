"""The project's ledger and claims, served to Ray workers by one actor on the driver's node.

Workers need not see the project folder (on a cluster they usually cannot): the broker op they
run reads and writes the ledger through :class:`RemoteLedger`, which forwards every lookup, record,
origin and claim to a :class:`LedgerActor`.  That actor runs on the driver's node (where the
project folder is), opens the project's real :class:`~bfnb.ledger.Ledger` and its
``claims.jsonl``, and is named after the ledger's path, so every worker of a run (and every run of
this driver on that project) talks to the same one.  What follows from it:

* **pay once across workers** — claims are :class:`~bfnb.ledger.claims.FileClaimStore` claims in
  the project's ``claims.jsonl``, one owner per worker process (:class:`ActorClaimStore` is the
  cluster store behind the call client's :class:`~bfnb.ledger.claims.ClaimStore` interface), so
  two workers, or a worker and a notebook on this machine, never send the same call twice;
* **spend counted once** — the actor tallies each record it appends under the node that paid for
  it (``tally``); the driver reads the tally once per node (``take``) instead of adding workers'
  reports, so a record is counted exactly when it reaches the ledger;
* **durable answers** — a record is sent to the actor the moment its answer arrives; a worker
  waits for every record it sent to be written before it releases its claims or returns its batch.

The actor handles one request at a time (``max_concurrency=1``): one consistent view of records
and claims, as the file lock gives processes.  It asks for no CPU, so it never takes a slot a
``map_batches`` task needs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import ray

from ...errors import LedgerError
from ...ledger.claims import CLAIMS_FILE, Claim, ClaimStore, FileClaimStore, pid_gone
from ...ledger.records import CallRecord, Status

__all__ = ["ActorClaimStore", "LedgerActor", "RemoteLedger", "ledger_actor"]

#: groups of records a worker may have in flight to the actor before it waits for them to be written
_MAX_PENDING = 16
#: an answer waits at most this long on its worker before its group is sent to the ledger actor
SEND_EVERY_S = 0.02
#: ... or until this many answers wait
SEND_AT = 256


class _OwnerClaims(FileClaimStore):
    """A FileClaimStore claiming for one Ray worker process (its name is the owner others see).

    Its lines carry the actor's pid, which stays alive; the worker's own host and pid are in its
    name (``ray:<host>:<pid>:<token>``), so a worker of this host that died frees its claims at
    once, as a dead process does; a worker on another node, when its lease runs out.
    """

    def __init__(self, path: Any, name: str) -> None:
        self._name = name
        super().__init__(path)

    @property
    def owner(self) -> str:
        return self._name

    def _taken(self, c: Claim, now: float, gone: dict[int, bool]) -> bool:
        parts = c.owner.split(":")
        if c.expires > now and len(parts) == 4 and parts[0] == "ray" and parts[1] == self.host and parts[2].isdigit():
            pid = int(parts[2])
            if pid not in gone:
                gone[pid] = pid_gone(pid)
            return not gone[pid]
        return super()._taken(c, now, gone)


class LedgerActor:
    """Holds the project's ledger and claims on the driver's node; workers call it (see module doc)."""

    def __init__(self, path: str) -> None:
        from ...ledger import Ledger

        self.ledger = Ledger(path)
        self.stores: dict[str, _OwnerClaims] = {}
        self.tallies: dict[str, dict[str, Any]] = {}

    # --- records ------------------------------------------------------------------------------
    def writable(self) -> bool:
        return self.ledger.writable

    def get_many(self, keys: list[str], refresh: bool | None) -> list[CallRecord | None]:
        return self.ledger.get_many(keys, refresh=refresh)

    def append(self, records: list[CallRecord], tally: str) -> int:
        """Append ``records`` (paid by the node ``tally`` names) and count them under it."""
        n = self.ledger.append_many(records)
        t = self.tallies.setdefault(tally, {})
        for rec in records:
            t["calls_sent"] = t.get("calls_sent", 0) + 1
            t["input_tokens"] = t.get("input_tokens", 0) + rec.input_tokens
            t["output_tokens"] = t.get("output_tokens", 0) + rec.output_tokens
            if rec.status == Status.DONE:
                cost = t.get("cost_usd", 0.0)
                t["cost_usd"] = None if cost is None or rec.cost_usd is None else cost + rec.cost_usd
        return n

    def record_origins(self, op: str, run_id: str, idxs: list[str], keys: list[str]) -> None:
        try:
            self.ledger.origins.record_origins(op, run_id, idxs, keys)
        except Exception:  # explain() is a convenience; never fail a run over it
            pass

    # --- counts -------------------------------------------------------------------------------
    def add_counts(self, tally: str, counts: dict[str, Any], incomplete: bool, log: list[Any]) -> None:
        """A worker batch's counts the ledger cannot see (calls served from it, failed, pending), and
        its call log (which entry asked for which key, for ``g.explain()``)."""
        t = self.tallies.setdefault(tally, {})
        t.setdefault("log", []).extend(log)
        for k, v in counts.items():
            if k == "pending_usd_max":
                t[k] = None if v is None or t.get(k, 0.0) is None else t.get(k, 0.0) + v
            else:
                t[k] = t.get(k, 0) + v
        t["incomplete"] = bool(t.get("incomplete")) or incomplete

    def take(self, tally: str) -> dict[str, Any]:
        """The node's counts (and forget them): calls sent, tokens and cost, summed once, here."""
        return self.tallies.pop(tally, {})

    # --- claims -------------------------------------------------------------------------------
    def _store(self, owner: str) -> _OwnerClaims:
        if owner not in self.stores:
            self.stores[owner] = _OwnerClaims(self.ledger.path / CLAIMS_FILE, owner)
        return self.stores[owner]

    def acquire(self, owner: str, keys: list[str], lease_s: float) -> tuple[list[str], dict[str, Claim]]:
        return self._store(owner).acquire(keys, lease_s)

    def renew(self, owner: str, keys: list[str], lease_s: float) -> list[str]:
        return self._store(owner).renew(keys, lease_s)

    def release(self, owner: str, keys: list[str]) -> None:
        self._store(owner).release(keys)

    def where(self) -> tuple[str, int]:
        """(node id, pid) of this actor: tests check it sits beside the driver."""
        import os

        return ray.get_runtime_context().get_node_id(), os.getpid()


_RemoteLedgerActor = ray.remote(LedgerActor)
_actors: dict[tuple[str, str], Any] = {}


def actor_name(path: str) -> str:
    """The ledger actor's name: one per ledger folder (workers and runs of a driver share it)."""
    return "bfnb-ledger-" + hashlib.sha256(path.encode()).hexdigest()[:16]


def ledger_actor(path: str) -> Any:
    """The ledger actor for the ledger folder ``path``, started on this (the driver's) node if needed."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ctx = ray.get_runtime_context()
    key = (path, ctx.get_job_id())  # a Ray restarted since (a new job) needs its own actor
    handle = _actors.get(key)
    if handle is not None:
        return handle
    here = ctx.get_node_id()
    handle = _RemoteLedgerActor.options(  # type: ignore[attr-defined]
        name=actor_name(path),
        get_if_exists=True,
        num_cpus=0,
        max_concurrency=1,
        max_restarts=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False),
    ).remote(path)
    for old in [k for k in _actors if k[1] != key[1]]:  # handles of an earlier job are dead
        del _actors[old]
    _actors[key] = handle
    return handle


class ActorClaimStore(ClaimStore):
    """The cluster claim store: a worker's claims, kept by the ledger actor (one owner per worker)."""

    def __init__(self, ledger: RemoteLedger, owner: str) -> None:
        self.ledger, self._owner = ledger, owner

    @property
    def owner(self) -> str:
        return self._owner

    def acquire(self, keys: Iterable[str], lease_s: float = 30.0) -> tuple[list[str], dict[str, Claim]]:
        return ray.get(self.ledger.actor.acquire.remote(self._owner, list(keys), lease_s))  # type: ignore[no-any-return]

    def renew(self, keys: Iterable[str], lease_s: float = 30.0) -> list[str]:
        return ray.get(self.ledger.actor.renew.remote(self._owner, list(keys), lease_s))  # type: ignore[no-any-return]

    def release(self, keys: Iterable[str]) -> None:
        self.ledger.flush()  # a claim is given up only once its records are written
        ray.get(self.ledger.actor.release.remote(self._owner, list(keys)))


class _RemoteOrigins:
    def __init__(self, ledger: RemoteLedger) -> None:
        self.ledger = ledger

    def record_origins(self, op: str, run_id: str, idxs: list[str], keys: list[str]) -> None:
        self.ledger.submit(self.ledger.actor.record_origins.remote(op, run_id, idxs, keys))


class RemoteLedger:
    """What the call client needs of a ledger, on a worker: every call goes to the ledger actor.

    Records are sent to the actor in groups: an answer waits at most :data:`SEND_EVERY_S` (or until
    :data:`SEND_AT` more have arrived) before its group goes, one actor call for many records, so
    the actor keeps up with thousands of answers a second.  ``append`` does not wait for the write;
    :meth:`flush` sends what waits and waits for every record sent so far, and runs before a claim
    is released, before a lookup, and at the end of a batch.  A worker that dies loses only the
    answers of its last few milliseconds, as a process does its calls in flight; their claims
    lapse with their lease and the calls are sent again.
    """

    def __init__(self, actor: Any, path: str, tally: str, owner: str) -> None:
        self.actor, self.path, self.tally = actor, path, tally
        self.claims = ActorClaimStore(self, owner)
        self.origins = _RemoteOrigins(self)
        self._pending: list[Any] = []
        self._waiting: list[CallRecord] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sender: threading.Thread | None = None

    @property
    def writable(self) -> bool:
        return bool(ray.get(self.actor.writable.remote()))

    def submit(self, ref: Any) -> None:
        with self._lock:
            self._pending.append(ref)
            full = len(self._pending) >= _MAX_PENDING
        if full:
            self.flush()

    def _send_waiting(self) -> bool:
        """Send the records that wait as one group; True when enough groups are in flight to wait for them."""
        with self._lock:
            records, self._waiting = self._waiting, []
            if records:
                self._pending.append(self.actor.append.remote(records, self.tally))
            return len(self._pending) >= _MAX_PENDING

    def _send_loop(self) -> None:
        while not self._stop.wait(SEND_EVERY_S):
            try:
                if self._send_waiting():
                    self.flush()
            except LedgerError:  # flush() raises it again where it can stop the run
                continue

    def flush(self) -> None:
        """Wait until every record appended so far is in the ledger (raises what writing raised)."""
        self._send_waiting()
        with self._lock:
            refs, self._pending = self._pending, []
        if refs:
            try:
                ray.get(refs)
            except Exception as e:
                raise LedgerError(f"the ledger actor could not write to {self.path}: {e}") from e

    def close(self) -> None:
        """Write what is left and stop the sender thread."""
        self._stop.set()
        if self._sender is not None:
            self._sender.join(timeout=5)
        self.flush()

    def append(self, record: CallRecord) -> None:
        self.append_many([record])

    def append_many(self, records: Iterable[CallRecord]) -> None:
        with self._lock:
            self._waiting.extend(records)
            full = len(self._waiting) >= SEND_AT
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_loop, name="bfnb-ledger-send", daemon=True)
                self._sender.start()
        if full and self._send_waiting():
            self.flush()

    def get_many(self, keys: Sequence[str], *, refresh: bool | None = None) -> list[CallRecord | None]:
        self.flush()
        return ray.get(self.actor.get_many.remote(list(keys), refresh))  # type: ignore[no-any-return]

    def get(self, key: str) -> CallRecord | None:
        return self.get_many([key])[0]

    def refresh(self) -> int:
        """0: the claims the actor keeps are what stops a second send (see the call client's gate)."""
        return 0

    def __repr__(self) -> str:
        return f"RemoteLedger({self.path!r} via the ledger actor)"
