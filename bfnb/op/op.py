"""Op: the unit of a graph.  An op maps input batches (one per in-port) to output batches.

Ops are values: an op holds only its arguments, remembers them for its fingerprint and repr, and
does no I/O until the executor runs it.  The same op may stand at several places in a graph; each
place is its own node.  Kinds of op are small subclasses with one method to write:

* :class:`MapOp` (1 → 1) — ``apply(batch, ctx)``, for maps, filters and batch-wide ops;
* :class:`SourceOp` (0 → 1) — ``read(ctx)``;
* :class:`SinkOp` (1 → 1, passes its input through) — ``write(batch, ctx)``, run on every run.

Multi-port ops (routers, fan-out, fan-in) subclass :class:`Op` and implement ``run``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import MissingFieldError, UserFunctionError
from ..fingerprint import combine, describe_function, fingerprint

if TYPE_CHECKING:
    from ..graph import Graph

__all__ = [
    "MapOp",
    "Op",
    "RunContext",
    "SinkOp",
    "SourceOp",
    "call_on_dicts",
    "call_rowwise",
    "io_keys",
    "key_list",
    "predicate",
    "row_dicts",
]


@dataclass
class RunContext:
    """What an op may know about the run it is part of."""

    run_id: str
    node_id: int
    label: str
    fingerprint: str
    dispatch_brokers: bool = True
    project: Any = None  # ProjectFolder or None
    budget: Any = None  # brokers.BudgetTracker or None
    stats: dict[str, Any] = field(default_factory=dict)  # calls_sent, calls_cached, cost_usd, ...
    incomplete: bool = False  # set by an op whose result has pending or failed entries
    inputs_incomplete: bool = False  # some input came from an incomplete node
    run_subgraph: Callable[..., pd.DataFrame] | None = None  # (graph, batch, fingerprint) -> batch
    options: dict[str, Any] = field(default_factory=dict)
    calls: Any = None  # the run's bfnb.calls.CallClient (broker ops fetch records through it)
    partial: Any = None  # the top-level run's bfnb.executor.partial.Partial (None in nested runs)

    def add_stat(self, name: str, value: float) -> None:
        self.stats[name] = self.stats.get(name, 0) + value


class Op:
    """Base of every op."""

    n_in: int = 1
    n_out: int = 1
    kind: str = "map"
    #: Sinks (writers, printers, collectors) run on every run even when their input is unchanged.
    side_effect: bool = False
    #: False for ops whose result must not be reused from the in-kernel memo.
    memoize: bool = True
    #: True for ops whose outputs cannot hold a duplicate idx: they only keep, drop, reorder or
    #: update their input's rows, or (sources) check their idx themselves with a better message.
    #: The executor skips its own duplicate-idx check for them.
    preserves_idx: bool = False

    _args: tuple[tuple[Any, ...], dict[str, Any]]
    _tag: str | None
    _fp: str | None
    #: the Python object the op produced in its last run (ToList, OutputEntries)
    _output: Any

    def __new__(cls, *args: Any, **kwargs: Any) -> Op:
        from .keywords import check_keywords

        check_keywords(cls, kwargs)  # an unknown keyword fails here, listing the accepted ones
        self = super().__new__(cls)
        self._args = (args, kwargs)
        self._tag = None
        self._fp = None
        self._output = None
        return self

    # --- identity ---------------------------------------------------------------------------

    def tag(self, name: str) -> Op:
        """Name this op so that ``g[name]`` returns its result; returns the op itself."""
        if not isinstance(name, str) or not name:
            raise TypeError("a tag must be a non-empty string")
        self._tag = name
        return self

    @property
    def tag_name(self) -> str | None:
        return self._tag

    def label(self) -> str:
        """The op's name in a graph: its tag, else :meth:`display_name`."""
        return self._tag or self.display_name()

    def display_name(self) -> str:
        """What the op is, for displays (``AskLLM[gpt-4o-mini@openai]``)."""
        return type(self).__name__

    def fingerprint(self) -> str:
        """Class + arguments (function code and captured values included) + :meth:`extra_fingerprint`."""
        if self._fp is None:
            cls = type(self)
            self._fp = combine(f"{cls.__module__}.{cls.__qualname__}", fingerprint(self._args))
        extra = self.extra_fingerprint()
        return combine(self._fp, extra) if extra else self._fp

    def extra_fingerprint(self) -> str:
        """Content that is not in the arguments (a source's files); computed on every run."""
        return ""

    def meta_fields(self) -> list[str]:
        """The bookkeeping fields this op writes (status, error, finish reason, cost), not data.

        ``g.to_pandas(meta=False)`` leaves them out.  Read from the seed's ``*_key`` arguments so
        that a renamed ``status_key`` is still known as bookkeeping.
        """
        names = (getattr(self, a, None) for a in _META_ATTRS)
        return [n for n in names if isinstance(n, str) and n]

    # --- running ------------------------------------------------------------------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__:
            cls.run = _lone_op_run(cls.__dict__["run"])  # type: ignore[method-assign]

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        """The executor's entry point (``inputs``, ``ctx``); ``op.run()`` runs a lone op as a graph."""
        raise NotImplementedError

    def to_pandas(self, **options: Any) -> pd.DataFrame:
        """Run this op alone as a one-node graph: ``FromList(df).to_pandas(meta=False)``."""
        return self.to_graph().to_pandas(**options)

    def get_output(self) -> Any:
        """The Python object this op produced in the last run (ToList, OutputEntries); else None."""
        return self._output

    # --- composition --------------------------------------------------------------------------

    def to_graph(self) -> Graph:
        """A one-node graph of this op (``op | op`` builds on it); see :func:`register_graph_builder`."""
        if _graph_of is None:  # only if bfnb/__init__ never ran, which importing any bfnb module does
            raise RuntimeError("no graph builder is registered; `import bfnb` registers bfnb.graph")
        return _graph_of(self)

    def __or__(self, other: Any) -> Graph:
        return self.to_graph() | other

    def __repr__(self) -> str:
        args, kwargs = self._args
        parts = [_short_repr(a) for a in args] + [f"{k}={_short_repr(v)}" for k, v in kwargs.items()]
        text = f"{type(self).__name__}({', '.join(parts)})"
        return f"{text}.tag({self._tag!r})" if self._tag else text


_META_ATTRS = ("status_key", "error_key", "finish_reason_key", "cost_key")


def _lone_op_run(method: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``op.run()`` (no inputs, no context) mean: run this op alone as a one-node graph."""
    import functools

    @functools.wraps(method)
    def run(self: Op, inputs: Any = None, ctx: Any = None, /, **options: Any) -> Any:
        if inputs is None and ctx is None:
            return self.to_graph().run(**options)
        if options:
            raise TypeError(f"{type(self).__name__}.run(inputs, ctx) takes no keyword options: {sorted(options)}")
        return method(self, inputs, ctx)

    return run


def _short_repr(v: Any, limit: int = 60) -> str:
    if callable(v) and not isinstance(v, type) and not hasattr(v, "to_graph"):
        return describe_function(v)
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return f"[{len(v)} items]"
    r = repr(v)
    return r if len(r) <= limit else r[: limit - 1] + "…"


class MapOp(Op):
    """1 → 1 op: implement ``apply``."""

    preserves_idx = True  # subclasses that create entries (explode, spawn) set it to False

    def apply(self, batch: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        raise NotImplementedError

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        return [self.apply(inputs[0], ctx)]


class SourceOp(Op):
    """0 → 1 op: implement ``read``."""

    n_in = 0
    kind = "source"

    def read(self, ctx: RunContext) -> pd.DataFrame:
        raise NotImplementedError

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        return [self.read(ctx)]


class SinkOp(Op):
    """Writes or collects its input, then passes it on unchanged; runs on every run."""

    kind = "sink"
    side_effect = True
    preserves_idx = True

    def write(self, batch: pd.DataFrame, ctx: RunContext) -> None:
        raise NotImplementedError

    def run(self, inputs: list[pd.DataFrame], ctx: RunContext) -> list[pd.DataFrame]:
        self.write(inputs[0], ctx)
        return [inputs[0]]


# --- field-key conventions ------------------------------------------------------------------------


def key_list(keys: str | Iterable[str] | None) -> list[str]:
    """``"a"`` → ``["a"]``; a list or tuple → a list; None → []."""
    if keys is None:
        return []
    if isinstance(keys, str):
        return [keys]
    out = list(keys)
    for k in out:
        if not isinstance(k, str):
            raise TypeError(f"field keys must be strings, got {k!r}")
    return out


def io_keys(*keys: Any) -> tuple[list[str], list[str]]:
    """Parse the seed's field-key conventions into (input keys, output keys).

    ``"k"`` (in = out), ``["a", "b"]`` (in = out), ``("a", "b")`` as two arguments
    (in ``a``, out ``b``; each may be a str or a list), or ``{"in": "out", ...}``.
    """
    if len(keys) == 1 and isinstance(keys[0], Mapping):
        mapping = keys[0]
        return key_list(list(mapping.keys())), key_list(list(mapping.values()))
    if len(keys) == 1:
        ks = key_list(keys[0])
        return ks, list(ks)
    if len(keys) == 2:
        return key_list(keys[0]), key_list(keys[1])
    raise TypeError(
        "field keys are given as 'k', ['a', 'b'], ('in', 'out') or {'in': 'out'}; "
        f"got {len(keys)} arguments: {keys!r}"
    )


# --- calling user functions row by row -------------------------------------------------------------

_MISSING = object()


def columns_of(batch: pd.DataFrame, keys: Sequence[str], op: Any) -> list[list[Any]]:
    """The values of ``keys`` as Python lists, with a clear error for a missing field."""
    cols = []
    for k in keys:
        if k not in batch.columns:
            ix = batch.index[0] if len(batch) else None
            raise MissingFieldError(f"missing field {k!r}", op=op, idx=ix, field=k)
        cols.append(batch[k].tolist())
    return cols


def call_rowwise(
    fn: Callable[..., Any],
    batch: pd.DataFrame,
    in_keys: Sequence[str],
    op: Any,
    *,
    n_out: int | None = None,
    out_keys: Sequence[str] = (),
) -> list[Any]:
    """Call ``fn(*values)`` for every row; one clear error naming op, idx and field on failure.

    With ``n_out`` > 1 each result must be a tuple or list of that length.
    """
    cols = columns_of(batch, in_keys, op)
    out: list[Any] = []
    try:
        out.extend(map(fn, *cols))  # on an exception, out holds the rows before the failing one
    except Exception as e:  # the user's function failed on row len(out)
        ix = batch.index[len(out)]
        field_name = in_keys[0] if len(in_keys) == 1 else list(in_keys)
        raise UserFunctionError(
            f"{describe_function(fn)} raised {type(e).__name__}: {e}", op=op, idx=ix, field=field_name
        ) from e
    if n_out is not None and n_out > 1:
        for i, r in enumerate(out):
            if not isinstance(r, (tuple, list)) or len(r) != n_out:
                raise UserFunctionError(
                    f"{describe_function(fn)} must return {n_out} values (a tuple or list) for fields "
                    f"{list(out_keys)}, got {type(r).__name__}",
                    op=op,
                    idx=batch.index[i],
                    field=list(out_keys),
                )
    return out


def row_dicts(batch: pd.DataFrame) -> list[dict[str, Any]]:
    """Each row's fields as a dict (for user functions that take the whole entry)."""
    from ..batch import to_records

    return to_records(batch, with_meta=False)


def call_on_dicts(fn: Callable[..., Any], batch: pd.DataFrame, op: Any) -> list[Any]:
    """Call ``fn(data)`` for every row's data dict; one clear error naming op and idx on failure."""
    out: list[Any] = []
    try:
        out.extend(map(fn, row_dicts(batch)))  # on an exception, out holds the rows before it
    except KeyError as e:
        ix = batch.index[len(out)]
        raise MissingFieldError(
            f"{describe_function(fn)} read a missing field {e}", op=op, idx=ix, field=e.args[0] if e.args else None
        ) from e
    except Exception as e:
        ix = batch.index[len(out)]
        raise UserFunctionError(f"{describe_function(fn)} raised {type(e).__name__}: {e}", op=op, idx=ix) from e
    return out


def predicate(fn: Callable[..., Any], keys: Sequence[str], batch: pd.DataFrame, op: Any) -> Any:
    """A boolean numpy mask: ``fn(*values)`` with keys, else ``fn(data)``; truthiness of results."""
    import numpy as np

    if not len(batch):
        return np.zeros(0, dtype=bool)
    res = call_rowwise(fn, batch, keys, op) if keys else call_on_dicts(fn, batch, op)
    return np.fromiter((bool(r) for r in res), dtype=bool, count=len(res))


_graph_of: Callable[[Op], Graph] | None = None


def register_graph_builder(graph_of: Callable[[Op], Graph]) -> None:
    """How ``op.to_graph()`` and ``op | op`` make a graph: :mod:`bfnb.graph.graph` registers ``Graph.of``
    when it is imported (it imports this module, so this module never imports it back)."""
    global _graph_of
    _graph_of = graph_of
