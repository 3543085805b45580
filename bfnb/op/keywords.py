"""Keyword arguments: nothing is accepted and ignored.

* An unknown keyword is a ``TypeError`` that lists the accepted ones (with the closest match), raised
  when the op is made: ``AskLLM("…", max_tokenz=5)`` fails at once instead of being swallowed.
* Every keyword of batchfactory 0.6.2's broker ops is accepted.  Where it has a meaning in bfnb it
  is honoured (``cache_path``: where the op's checkpoint goes; ``broker``: a bfnb broker that answers;
  ``failure_behavior``: what failed rows do; ``barrier_level``: every barrier is real, so any level
  holds).  Where it has none (``job_idx_key``, ``keep_all_rev``) it is accepted with a one-time
  warning naming it and why.  The list is in the README ("Coming from batchfactory").

Those keywords are written once, here (:class:`SeedBrokerKeywords`): a broker op takes them as
``**seed_keywords: Unpack[SeedBrokerKeywords]`` (typed for mypy and IDEs, checked by
:func:`check_keywords`) and hands them to :meth:`~bfnb.op.broker_op.BrokerOp.init_broker_op`.
"""

from __future__ import annotations

import difflib
import inspect
import os
import typing
import warnings
from enum import Enum, StrEnum
from typing import Any, TypedDict

__all__ = ["BrokerFailureBehavior", "SeedBrokerKeywords", "check_keywords", "seed_broker_keywords", "warn_once"]

_accepted: dict[type, frozenset[str] | None] = {}
_warned: set[tuple[str, str]] = set()


class BrokerFailureBehavior(StrEnum):
    """What a broker op does with an entry whose call failed (batchfactory's names).

    ``EMIT`` (bfnb's default): the row stays, with ``status="failed"`` and the ``error``.
    ``RETRY``: the same, and the call is sent again on the next run (bfnb always does this: a failed
    call is never cached as an answer).  ``STAY``: failed rows are left out of the op's output (they
    are still retried on the next run; batchfactory never retried them).
    """

    STAY = "stay"
    RETRY = "retry"
    EMIT = "emit"


class SeedBrokerKeywords(TypedDict, total=False):
    """batchfactory 0.6.2's keywords every broker op accepts (see :func:`seed_broker_keywords`)."""

    cache_path: str | os.PathLike[str] | None
    broker: Any
    failure_behavior: BrokerFailureBehavior | str
    job_idx_key: str | None
    keep_all_rev: bool | None
    barrier_level: int | None


def accepted_keywords(cls: type) -> frozenset[str] | None:
    """The keyword names ``cls(...)`` accepts (None: it takes any ``**kwargs``).

    ``**kw: Unpack[SomeTypedDict]`` accepts that TypedDict's keys, nothing else.
    """
    if cls not in _accepted:
        init = cls.__init__  # type: ignore[misc]
        try:
            params = list(inspect.signature(init).parameters.values())
        except (TypeError, ValueError):
            _accepted[cls] = None
            return None
        names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
        var_kw = next((p for p in params if p.kind is p.VAR_KEYWORD), None)
        unpacked = _unpacked_keys(init, var_kw.name) if var_kw is not None else frozenset()
        _accepted[cls] = None if unpacked is None else frozenset(names | unpacked)
    return _accepted[cls]


def _unpacked_keys(init: Any, name: str) -> frozenset[str] | None:
    """The keys of ``**name: Unpack[TD]`` (None when it is a plain ``**kwargs``)."""
    try:
        ann = typing.get_type_hints(init, include_extras=True).get(name)
    except Exception:  # an annotation that cannot be resolved at run time: take any keyword
        return None
    if typing.get_origin(ann) is typing.Unpack:
        return frozenset(typing.get_args(ann)[0].__annotations__)
    return None


def check_keywords(cls: type, kwargs: dict[str, Any]) -> None:
    """Raise a TypeError naming unknown keywords of ``cls(...)`` and listing the accepted ones."""
    if not kwargs:
        return
    accepted = accepted_keywords(cls)
    if accepted is None:
        return
    unknown = [k for k in kwargs if k not in accepted]
    if not unknown:
        return
    hints = [f"{k!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, accepted, 1, 0.55)) else repr(k)
             for k in unknown]  # fmt: skip
    raise TypeError(
        f"{cls.__name__}() got unknown keyword argument(s) {', '.join(hints)}; accepted: {', '.join(sorted(accepted))}"
    )


def warn_once(owner: str, keyword: str, why: str) -> None:
    """Warn once per process that ``owner`` accepted ``keyword`` but it has no effect in bfnb."""
    if (owner, keyword) in _warned:
        return
    _warned.add((owner, keyword))
    warnings.warn(f"{owner}({keyword}=...) is accepted for batchfactory compatibility but {why}", stacklevel=4)


def seed_broker_keywords(
    op: Any,
    *,
    cache_path: Any = None,
    broker: Any = None,
    failure_behavior: Any = BrokerFailureBehavior.EMIT,
    job_idx_key: str | None = None,
    keep_all_rev: bool | None = None,
    barrier_level: int | None = None,
) -> None:
    """Apply batchfactory's broker-op keywords to ``op`` (honoured, or warned about once)."""
    name = type(op).__name__
    if cache_path is not None:
        op.cache_path = str(cache_path)  # the op's checkpoint goes there (Persisted)
    if broker is not None:
        from ..brokers.broker import Broker

        if not isinstance(broker, Broker):
            raise TypeError(
                f"{name}(broker=...) takes a bfnb broker (bfnb.brokers.*Broker), got {type(broker).__name__}"
            )
        op.broker = broker
    try:
        op.failure_behavior = BrokerFailureBehavior(
            failure_behavior.value if isinstance(failure_behavior, Enum) else str(failure_behavior).lower()
        )
    except ValueError:
        raise ValueError(
            f"{name}(failure_behavior={failure_behavior!r}): accepted: 'emit', 'retry', 'stay' "
            "(or BrokerFailureBehavior.EMIT/RETRY/STAY)"
        ) from None
    if job_idx_key is not None:
        warn_once(name, "job_idx_key", "bfnb keys calls by their content and writes no job idx field")
    if keep_all_rev is not None and not keep_all_rev:
        warn_once(name, "keep_all_rev", "bfnb keeps one version of each entry (the highest rev)")
    if barrier_level is not None and (isinstance(barrier_level, bool) or not isinstance(barrier_level, int)):
        raise TypeError(f"{name}(barrier_level=...) is an int, got {barrier_level!r}")
    # barrier_level: every bfnb barrier is real (an op sees its whole input), which satisfies any level
