"""Engines, found by name and imported lazily; the one front door every run goes through.

``g.run(engine="ray")`` (or ``bf.options.engine = "ray"``) picks the backend, the way ibis picks
one with ``ibis.<backend>.connect``.  Built-ins: ``local`` (the whole-batch executor), ``stream``
(the same ops chunk by chunk, in bounded memory) and ``ray`` (Ray Data; needs ``bfnb[ray]``).
Packages add engines under the entry-point group ``bfnb.engines``; an entry point names a module
holding a class ``Engine`` (or the class itself).  Nothing is imported until an engine is used, so
``import bfnb`` never imports Ray.

``auto`` (the default) runs a chain on ``stream`` when every op of it streams (the stream engine's
``streams(op)``: row-wise, broker, take, JSONL writer, Sort by fields, Shuffle) and its source reads
in chunks (a big file then never has to fit in memory, and the first rows are written early), and
everything else on ``local``; the exceptions, and why, are in ``Engine.auto_reason`` of
:mod:`bfnb.engines.stream`.  ``report.engine`` and ``g.explain()`` name the engine that ran.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..engine_names import AUTO, BUILTIN, EXTRAS, accepted_names, validate_name
from ..engine_names import entry_point_engines as _entry_points
from ..errors import EngineError
from .engine import Engine, EngineContext

if TYPE_CHECKING:
    from ..executor.run import RunReport
    from ..graph.graph import Graph

__all__ = ["AUTO", "Engine", "EngineContext", "accepted_names", "get_engine", "run", "validate_name"]

_instances: dict[str, Engine] = {}


def get_engine(name: str) -> Engine:
    """The engine called ``name`` (imported on first use; one instance per process)."""
    validate_name(name)
    if name == AUTO:
        raise EngineError("'auto' chooses an engine per run; ask for 'local', 'stream' or 'ray' by name")
    if name in _instances:
        return _instances[name]
    try:
        if name in BUILTIN:
            loaded: Any = importlib.import_module(BUILTIN[name])
        else:
            loaded = _entry_points()[name].load()
    except ImportError as e:
        hint = EXTRAS.get(name, f"install the package that provides the {name!r} engine")
        raise EngineError(f"the {name!r} engine needs a package that is not installed ({e.name or e}): {hint}") from e
    cls = getattr(loaded, "Engine", loaded)
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise EngineError(f"the {name!r} engine entry point gives {loaded!r}, not a bfnb Engine class")
    engine = cls()
    _instances[name] = engine
    return engine


def _choose(ctx: EngineContext, plan: Any, asked: str | None) -> tuple[Engine, str]:
    from ..options import options

    if asked is not None:
        name, why = validate_name(asked), "asked"
    else:
        name, why = validate_name(options.engine), "bf.options.engine"
    if name != AUTO:
        return get_engine(name), why
    if "stream" not in _instances:  # decide what the graph alone decides without importing the engine
        from .engine_auto import reason_before_steps

        early = reason_before_steps(ctx)
        if early is not None:
            return get_engine("local"), f"auto: {early}"
    stream = get_engine("stream")
    reason = stream.auto_reason(plan, ctx)  # type: ignore[attr-defined]
    if reason is None:
        return stream, "auto: every op of the chain streams"
    return get_engine("local"), f"auto: {reason}"


#: the keywords a run passes through to the executor (besides engine, dispatch_brokers, targets, use_memo)
RUN_OPTIONS = frozenset({"project", "budget_usd", "mock", "max_iterations", "_background"})


def run(
    graph: Graph,
    *,
    engine: str | None = None,
    dispatch_brokers: bool = True,
    targets: Any = None,
    use_memo: bool = True,
    keep_tail: bool = True,
    **options: Any,
) -> RunReport:
    """Plan ``graph``, choose its engine, check every op is supported, then run it."""
    from ..calls import mock_calls
    from ..graph.plan import plan

    unknown = sorted(k for k in options if k not in RUN_OPTIONS and not k.startswith("_"))  # _x: bfnb's own
    if unknown:  # nothing is accepted and ignored
        accepted = sorted(
            {"background", "dispatch_brokers", "engine", "targets", "use_memo"} | RUN_OPTIONS - {"_background"}
        )
        raise TypeError(
            f"run() got unknown keyword argument(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(accepted)}"
        )
    with mock_calls(bool(options.get("mock"))):  # mock=True: fingerprints and keys of the local model, marked mock
        return _run(graph, engine, dispatch_brokers, targets, use_memo, keep_tail, options, plan)


def _run(
    graph: Graph,
    engine: str | None,
    dispatch_brokers: bool,
    targets: Any,
    use_memo: bool,
    keep_tail: bool,
    options: dict[str, Any],
    plan: Any,
) -> RunReport:
    ctx = EngineContext(
        graph,
        dispatch_brokers=dispatch_brokers,
        targets=tuple(targets or ()),
        use_memo=use_memo,
        keep_tail=keep_tail,
        options=options,
    )
    p = plan(graph)
    chosen, ctx.reason = _choose(ctx, p, engine)
    chosen.check(ctx)
    if chosen.name != "local" and ctx.listener is None:  # the local executor keeps its own Partial
        from ..executor.partial import Partial

        ctx.listener = Partial(graph, p.order, p.out_edges)  # chunks as they leave nodes: partial rows
        if options.get("_on_partial") is not None:
            options["_on_partial"](ctx.listener)
    report = chosen.execute(p, ctx)
    report.engine = chosen.name
    report.engine_reason = ctx.reason
    return report
