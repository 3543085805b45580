"""The driver's hub on Ray: the cluster-wide rate limit and the workers' progress, behind one actor.

:class:`ClusterHub` is one Ray actor per driver (named, made on first use, ``num_cpus=0`` so it
never takes a slot from the data tasks): it keeps a :class:`~.permit_bank.PermitBank` per broker
(workers take permits from it) and a :class:`~.ray_relay.RunBoard` per run (workers push their
brokers' totals to it).  :class:`RunServices` is the small interface a run uses, made on the driver
and shipped to the workers inside the tasks:

On the driver::

    services = RunServices.start(run_id)       # the hub, and the driver's broker limits by name
    with services.watch():                     # the panel / text bars list the workers' brokers
        ds.map_batches(work)                   # ... where ``work`` (on a worker) does:

On a worker::

    with services.on_worker():                 # this batch's broker events reach the driver, and
        ...                                    # attach_current(broker) (where the worker makes its
                                               # broker) paces it by the cluster's limit and share

A broker is limited by the bank of its name (and endpoint): the limits the driver's broker of
that name has (set by ``bf.get_broker(..., limits=...)`` in the notebook), else the worker's own.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ray

from ...brokers.concurrency import adaptive_for
from .permit_bank import Ask, BankConfig, Grant, PermitBank
from .ray_limiter import ClusterLimiter, share_limits
from .ray_relay import RelayedBroker, RunBoard, WorkerSink

__all__ = ["ClusterHub", "RunServices", "attach_current", "bank_config", "bank_key", "get_hub"]

HUB_NAME = "bfnb-cluster-hub"
WATCH_S = 0.25  #: how often the driver looks for brokers that started working on the workers
_IDLE_SINK_S = 120.0
_RUNS_KEPT = 32


class ClusterHub:
    """Permit banks by broker key, run boards by run id (the body of the Ray actor)."""

    def __init__(self) -> None:
        self.banks: dict[str, PermitBank] = {}
        self.boards: dict[str, RunBoard] = {}

    def take(self, key: str, config: BankConfig, client: str, ask: Ask) -> Grant:
        bank = self.banks.get(key)
        if bank is None:
            bank = self.banks[key] = PermitBank(config)
        elif config != bank.config:
            bank.configure(_lower(bank.config, config))  # a worker learnt a smaller limit from headers
        return bank.take(client, ask)

    def configure(self, key: str, config: BankConfig) -> None:
        """The driver's limits for ``key`` (the user's, exactly)."""
        bank = self.banks.get(key)
        if bank is None:
            self.banks[key] = PermitBank(config)
        else:
            bank.configure(config)

    def control(self, name: str, state: str) -> None:
        """Pause or resume every bank of broker ``name``."""
        for key, bank in self.banks.items():
            if key.split("|", 1)[0] == name:
                bank.control = state

    def limits(self, name: str) -> tuple[int, bool]:
        """(calls allowed in flight across the cluster, whether that adapts) for broker ``name``."""
        for key, bank in self.banks.items():
            if key.split("|", 1)[0] == name:
                return bank.concurrency, bank.adaptive is not None
        return 0, False

    def stats(self, key: str) -> dict[str, float]:
        bank = self.banks.get(key)
        return bank.stats() if bank is not None else {}

    def push(self, run_id: str, worker: str, totals: dict[str, dict[str, Any]]) -> None:
        board = self.boards.get(run_id)
        if board is None:
            board = self.boards[run_id] = RunBoard()
            while len(self.boards) > _RUNS_KEPT:  # the oldest runs' totals: shown and done with
                del self.boards[next(iter(self.boards))]
        board.push(worker, totals)

    def collect(self, run_id: str) -> dict[str, dict[str, Any]]:
        board = self.boards.get(run_id)
        return board.collect() if board is not None else {}

    def end_run(self, run_id: str) -> None:
        self.boards.pop(run_id, None)


def _lower(current: BankConfig, new: BankConfig) -> BankConfig:
    """``current`` with a smaller rpm/tpm from ``new`` (learnt), never a larger one."""
    from dataclasses import replace

    changes = {}
    for name in ("rpm", "tpm"):
        a, b = getattr(current.limits, name), getattr(new.limits, name)
        if b is not None and (a is None or b < a):
            changes[name] = b
    return replace(current, limits=replace(current.limits, **changes)) if changes else current


_hub: tuple[str, Any] | None = None
_hub_lock = threading.Lock()


def get_hub() -> Any:
    """The hub actor of this driver (made on first use, again after a new ``ray.init``)."""
    global _hub
    job = ray.get_runtime_context().get_job_id()
    with _hub_lock:
        if _hub is None or _hub[0] != job:
            actor = ray.remote(num_cpus=0, max_restarts=0)(ClusterHub)
            handle = actor.options(name=f"{HUB_NAME}-{job}", get_if_exists=True).remote()  # type: ignore[attr-defined]
            _hub = (job, handle)
        return _hub[1]


def bank_key(broker: Any) -> str:
    """Which limit a broker shares: its name and endpoint (``name|hash``; the name comes first)."""
    where = f"{getattr(broker, 'base_url', '')}|{getattr(broker, 'batch', False)}|{getattr(broker, '_secret', '')}"
    return f"{broker.name}|{hashlib.sha256(where.encode()).hexdigest()[:12]}"


def bank_config(broker: Any) -> BankConfig:
    """What ``broker``'s own settings ask of the bank (adaptive when the user set no limits)."""
    adaptive = getattr(broker, "adaptive", None) is not None
    initial, maximum = 32, 1024
    if adaptive:
        probe = adaptive_for(getattr(broker, "provider", ""))
        initial, maximum = probe.limit, probe.maximum
    return BankConfig(limits=broker.limits, adaptive=adaptive, initial=initial, maximum=maximum)


# --- per worker process ------------------------------------------------------------------------------

_sinks: dict[str, WorkerSink] = {}
_sinks_lock = threading.Lock()
_current: contextvars.ContextVar[RunServices | None] = contextvars.ContextVar("bfnb_ray_services", default=None)


def attach_current(broker: Any) -> Any:
    """``broker`` under the cluster's limit when called inside ``RunServices.on_worker()`` (else as it is)."""
    services = _current.get()
    return services.attach(broker) if services is not None else broker


@dataclass
class RunServices:
    """What a run's workers need to share the limit and report progress (picklable)."""

    run_id: str
    hub: Any
    #: the driver's brokers' settings by name: those win over a worker's own
    configs: dict[str, BankConfig] = field(default_factory=dict)

    # --- driver ------------------------------------------------------------------------------

    @classmethod
    def start(cls, run_id: str) -> RunServices:
        from ...brokers.registry import all_brokers

        hub = get_hub()
        configs: dict[str, BankConfig] = {}
        waits = []
        for b in all_brokers():
            if getattr(b, "pool", None) is None:
                continue
            configs[b.name] = cfg = bank_config(b)
            waits.append(hub.configure.remote(bank_key(b), cfg))
        ray.get(waits)
        return cls(run_id, hub, configs)

    def fetch(self) -> dict[str, dict[str, Any]]:
        """The workers' totals for this run, by broker name."""
        return dict(ray.get(self.hub.collect.remote(self.run_id)))

    def view(self, name: str) -> RelayedBroker:
        """The panel's object for broker ``name`` on the workers."""
        hub = self.hub
        return RelayedBroker(
            name,
            self.fetch,
            lambda n, s: ray.get(hub.control.remote(n, s)),
            limits=lambda: tuple(ray.get(hub.limits.remote(name))),  # type: ignore[arg-type]
        )

    @contextlib.contextmanager
    def watch(self) -> Iterator[dict[str, RelayedBroker]]:
        """While the block runs, each broker the workers use is shown in the run's panel (or bars).

        Yields the views by name; a last look at the end makes their counts final.
        """
        from ...op import progress

        views: dict[str, RelayedBroker] = {}
        stack = contextlib.ExitStack()
        stop = threading.Event()

        def look() -> None:
            for name in self.fetch():
                if name not in views:
                    views[name] = self.view(name)
                    stack.enter_context(progress.active(views[name]))

        ctx = contextvars.copy_context()  # the run's progress scope, seen from the watching thread

        def watcher() -> None:
            while not stop.wait(WATCH_S):
                with contextlib.suppress(Exception):  # a look that fails is tried again
                    ctx.run(look)

        thread = threading.Thread(target=watcher, name="bfnb-ray-watch", daemon=True)
        thread.start()
        try:
            yield views
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(Exception):
                ctx.run(look)
            for view in views.values():
                view.expire()
            stack.close()

    def close(self) -> None:
        """Forget this run's totals in the hub (the driver has shown them)."""
        with contextlib.suppress(Exception):
            self.hub.end_run.remote(self.run_id)

    # --- worker ------------------------------------------------------------------------------

    def attach(self, broker: Any) -> Any:
        """Make ``broker`` (on this worker) obey the cluster's limit and concurrency share; returns it.

        Idempotent; brokers that do not send through a worker pool (the Batch API one) are left alone.
        """
        if getattr(broker, "pool", None) is None or getattr(broker, "batch", False):
            return broker
        config = self.configs.get(broker.name) or bank_config(broker)
        hub = self.hub
        share_limits(
            broker, ClusterLimiter(lambda k, c, who, a: hub.take.remote(k, c, who, a), bank_key(broker), config)
        )
        return broker

    def sink(self) -> WorkerSink:
        """This worker process's sink for the run (made on first use)."""
        with _sinks_lock:
            sink = _sinks.get(self.run_id)
            if sink is None:
                for rid, old in list(_sinks.items()):  # runs this process has not heard of for a while
                    if old.idle_s > _IDLE_SINK_S:
                        _sinks.pop(rid).close()
                hub, run_id = self.hub, self.run_id
                sink = _sinks[self.run_id] = WorkerSink(lambda worker, totals: hub.push.remote(run_id, worker, totals))
            return sink

    @contextlib.contextmanager
    def on_worker(self) -> Iterator[WorkerSink]:
        """Around one batch's broker work on a worker: brokers made inside (``attach_current``)
        share the cluster's limit, and their events reach the driver, all of them by the end."""
        token = _current.set(self)
        try:
            with self.relay() as sink:
                yield sink
        finally:
            _current.reset(token)

    @contextlib.contextmanager
    def relay(self) -> Iterator[WorkerSink]:
        """Around one batch's broker work on a worker: its events reach the driver, all of them by the end."""
        sink = self.sink()
        try:
            yield sink
        finally:
            sink.flush()
