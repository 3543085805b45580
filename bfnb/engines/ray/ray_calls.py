"""Broker ops (AskLLM, EmbedText, CallLLM…) on Ray workers, inside ``map_batches``.

Each worker batch does what a local run does for its rows: render the requests, look them up in
the ledger, claim the missing ones, send them, and read the records into the op's fields.  Only the
ledger is elsewhere: :class:`~.ray_ledger.RemoteLedger` reaches it through the ledger actor on the
driver's node, so workers need not see the project folder and claims keep any call from being paid
twice across workers.  The driver (:func:`run_on_workers`):

1. resolves the op's endpoint once (provider, base URL, model and key) and ships it to the workers,
   so a worker answers with the same endpoint as the driver whatever its own environment says;
2. runs the batches (``materialize``: the node is done when its calls are), then reads the node's
   counts from the ledger actor once: sent, tokens and cost summed from the records it wrote;
3. checkpoints and memoises the node's complete result as a local run does.

It keeps a broker op on the driver (:func:`why_on_driver` says why) under a budget (one budget
tracker is the ceiling), when nothing may be sent, for the Batch API, and for an op with its own
broker object.  :func:`worker_broker` is the one place a worker gets its broker: a cluster-wide
rate limiter plugs in there.
"""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import socket
import uuid
from typing import TYPE_CHECKING, Any

import ray

from ...calls import MOCK, PRESET, CallClient, CallLogEntry, Endpoint, mock_calls
from ...op.broker_op import BrokerOp
from ...op.op import RunContext
from .carrier import decode, encode
from .cluster_hub import RunServices, attach_current
from .ray_ledger import RemoteLedger, ledger_actor
from .ray_translate import guarded

if TYPE_CHECKING:
    from ...executor.run import NodeReport

__all__ = ["WorkerCallClient", "WorkerCalls", "run_on_workers", "why_on_driver", "worker_broker"]

#: this worker process as a claim owner (host, pid, a token: a restarted worker is another owner)
_OWNER = f"ray:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def worker_broker(endpoint: Endpoint, batch: bool = False) -> Any:
    """The broker a Ray worker sends ``endpoint``'s calls through (one per endpoint per worker process).

    The one place a worker's broker is made: a cluster-wide rate limiter or gate wraps it here.
    """
    if endpoint.broker is not None:
        return endpoint.broker
    from ...brokers.registry import get_broker

    return attach_current(get_broker(endpoint.kind, endpoint.resolved, mock=endpoint.mock))


class WorkerCallClient(CallClient):
    """The call client on a worker: the ledger is the :class:`RemoteLedger`, the broker :func:`worker_broker`'s."""

    def __init__(self, ledger: RemoteLedger, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.remote_ledger = ledger

    def ledger_for(self, project: Any = None) -> Any:
        return self.remote_ledger

    def _broker(self, endpoint: Endpoint, batch: bool, project: Any) -> Any:
        return worker_broker(endpoint, batch)


def _quiet(text: str) -> None:
    """A worker's "waiting for N calls…" goes to its log (the driver shows progress)."""
    import logging

    logging.getLogger("bfnb.ray").info(text)


class WorkerCalls:
    """The function ``map_batches`` runs on a worker for a broker op: carrier → op → carrier."""

    def __init__(
        self, op: BrokerOp, label: str, fingerprint: str, actor: Any, path: str, tally: str, run_id: str,
        endpoints: dict[tuple[str, str, bool], Endpoint], mock: bool, lease_s: float,
        services: RunServices | None = None,
    ) -> None:  # fmt: skip
        self.op, self.label, self.fingerprint = op, label, fingerprint
        self.actor, self.path, self.tally, self.run_id = actor, path, tally, run_id
        self.endpoints, self.mock, self.lease_s = endpoints, mock, lease_s
        self.services = services  # the cluster's one rate limit, and progress for the driver's panel

    @guarded
    def __call__(self, carrier: Any) -> Any:
        from ...executor.run import _run_op
        from ...redaction import register_secret

        for ep in self.endpoints.values():  # redacted on this worker too
            key = getattr(ep.resolved, "api_key", None)
            if key:
                register_secret(key)
        ledger = RemoteLedger(self.actor, self.path, self.tally, _OWNER)
        client = WorkerCallClient(ledger, run_id=self.run_id, lease_s=self.lease_s, say=_quiet)
        ctx = RunContext(run_id=self.run_id, node_id=0, label=self.label, fingerprint=self.fingerprint, calls=client)
        batch = decode(carrier)
        token = PRESET.set(self.endpoints)
        try:
            on_worker = self.services.on_worker() if self.services is not None else contextlib.nullcontext()
            with mock_calls(self.mock), on_worker:
                out = _run_op(self.op, [batch], ctx)[0]
        finally:
            PRESET.reset(token)
            ledger.close()  # every paid answer is in the ledger before the batch counts as done
        counts = {k: v for k, v in ctx.stats.items() if k not in _LEDGER_COUNTS}
        counts["rows_in"], counts["rows_out"] = len(batch), len(out)
        log = [(e.op, e.idxs, e.keys, sorted(e.sent), e.kind) for e in client.log]  # for g.explain()
        ray.get(self.actor.add_counts.remote(self.tally, counts, ctx.incomplete, log))
        return encode(out)


#: counted by the ledger actor from the records it writes (never from workers' reports)
_LEDGER_COUNTS = ("calls_sent", "input_tokens", "output_tokens", "cost_usd")


def why_on_driver(op: Any, run: Any) -> str | None:
    """Why ``op`` runs on the driver rather than on the workers (None: on the workers)."""
    if not isinstance(op, BrokerOp):
        return "not a broker op"
    if not run.ctx.dispatch_brokers:
        return "nothing may be sent (answers come from the ledger only)"
    if run.options.get("budget") is not None:
        return "a budget: one tracker on the driver keeps spend under it"
    if getattr(op, "batch", False):
        return "the Batch API: its batches are remembered in the project folder"
    if getattr(op, "broker", None) is not None:
        return "the op has its own broker object"
    return None


def _endpoints(op: BrokerOp) -> dict[tuple[str, str, bool], Endpoint]:
    """The op's endpoint, resolved here once (ops that pick a model per entry resolve on the worker)."""
    model = getattr(op, "model", None)
    if not isinstance(model, str):
        return {}
    try:
        ep = op.endpoint()
    except Exception:  # e.g. an op that picks its model per request: resolved where it runs
        return {}
    return {(ep.kind, model, ep.mock): ep} if isinstance(ep, Endpoint) else {}


def run_on_workers(run: Any, nid: int, op: BrokerOp, rep: NodeReport, src: Any) -> Any:
    """Run broker op ``op`` over ``src`` (a Dataset on the workers); returns the materialised
    Dataset of its output, with the node's counts in ``rep``."""
    from ...before_paying import preflight
    from ...executor.run import _fill_stats

    ledger = run.calls.ledger_for(getattr(op, "_project", None))
    endpoints = _endpoints(op)
    if not ledger.writable:  # fail here, before any worker pays
        preflight(None, ledger)
    for ep in endpoints.values():  # an unknown model too
        preflight(ep, ledger, op=rep.op_label)
    path = os.fspath(ledger.path)
    actor = ledger_actor(path)
    shipped = copy.copy(op)
    shipped._project = None  # workers reach the ledger through the actor, never the folder
    tally = uuid.uuid4().hex
    services = RunServices.start(run.run_id)  # one rate limit for every worker's broker
    fn = WorkerCalls(
        shipped, rep.op_label, rep.fingerprint, actor, path, tally, run.run_id, endpoints, MOCK.get(),
        run.calls.lease_s, services=services,
    )  # fmt: skip
    with services.watch():  # the workers' brokers in the run's panel while they work
        out = src.ds.map_batches(fn, batch_format="pandas", batch_size=run.batch_rows).materialize()
    stats = ray.get(actor.take.remote(tally))
    for op_label, idxs, keys, sent, kind in stats.pop("log", []):  # what g.explain() reads, as for a local run
        run.calls.log.append(CallLogEntry(op_label, idxs, keys, set(sent), ledger, kind))
    rep.incomplete = bool(stats.pop("incomplete", False))
    stats.setdefault("cost_usd", 0.0)
    _fill_stats(rep, stats)
    rep.rows_in, rep.rows_out = int(stats.get("rows_in", 0)), int(stats.get("rows_out", 0))
    return out
