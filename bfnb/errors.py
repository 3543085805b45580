"""The one exception tree of bfnb.

Every error a user can meet derives from :class:`BfnbError`, so ``except bf.BfnbError`` catches all of
them, and each names what the user needs to fix it::

    BfnbError
    ├── OpError               an op failed on an entry: carries op, idx and field
    │   ├── MissingFieldError     a field an op reads is absent
    │   ├── DuplicateIdxError     two records of one source share an idx
    │   ├── UserFunctionError     a user function raised or returned the wrong shape
    │   ├── SourceError           a file is missing, malformed or not UTF-8
    │   ├── PathError             a path is refused: outside its folder, absolute, NUL, not encodable
    │   ├── WriteError            an output cannot be written: read-only, unwritable, a folder
    │   └── LoopLimitError        a loop ran past its iteration limit
    ├── GraphError            wiring, cycles, unknown or ambiguous tags
    ├── EngineError           an unknown engine, a missing extra, an op an engine cannot run
    ├── BrokerError           expensive calls
    │   ├── MissingAPIKeyError    a model's provider has no key configured
    │   ├── RateLimited           the provider answered 429 after every retry
    │   ├── ProviderError         any other provider failure
    │   │   └── UnknownModelError     the endpoint has no such model (found before the first request)
    │   └── BudgetExceeded        dispatch stopped before the budget would be exceeded
    └── LedgerError           the on-disk ledger cannot be read or written

    BfnbWarning (a UserWarning)  something was damaged and bfnb recovered (a corrupt checkpoint)
    └── LedgerWarning          damaged ledger lines were skipped: their calls will be paid again

Provider SDK exceptions are translated into this tree in exactly one place per broker.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BfnbError",
    "BfnbWarning",
    "BrokerError",
    "BudgetExceeded",
    "DuplicateIdxError",
    "EngineError",
    "GraphError",
    "LedgerError",
    "LedgerWarning",
    "LoopLimitError",
    "MissingAPIKeyError",
    "MissingFieldError",
    "OpError",
    "PathError",
    "ProviderError",
    "RateLimited",
    "SourceError",
    "UnknownModelError",
    "UserFunctionError",
    "WriteError",
]


class BfnbError(Exception):
    """Base of every bfnb error."""


class OpError(BfnbError):
    """An op could not process an entry; says which op, which entry and which field."""

    def __init__(
        self,
        message: str,
        *,
        op: Any = None,
        idx: Any = None,
        field: Any = None,
    ) -> None:
        self.op = op
        self.idx = idx
        self.field = field
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.op is not None:
            where.append(f"op {_op_label(self.op)}")
        if self.idx is not None:
            where.append(f"idx {self.idx!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


def _op_label(op: Any) -> str:
    if isinstance(op, str):
        return op
    label = getattr(op, "label", None)
    if callable(label):
        try:
            return str(label())
        except Exception:  # a label must never hide the real error
            pass
    return type(op).__name__


class MissingFieldError(OpError, KeyError):
    """A field an op reads is absent from an entry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0] if self.args else ""


class DuplicateIdxError(OpError):
    """Two different records would get the same idx."""


class UserFunctionError(OpError):
    """A user function raised, or returned a value of the wrong shape."""


class SourceError(OpError):
    """A source file is missing, malformed or not valid UTF-8."""


class PathError(OpError, ValueError):
    """A path is refused: it leaves its folder (``..``, absolute, a symlink pointing out), holds a NUL
    or a character no file name can hold (a lone surrogate), or names something that is not a file."""


class WriteError(OpError, OSError):
    """An output cannot be written (a read-only file, an unwritable folder, a folder in its place);
    nothing of it was written."""


class LoopLimitError(OpError):
    """A loop ran past its iteration limit."""


class GraphError(BfnbError):
    """A graph is wired wrongly: a cycle, a port used twice, an unknown or ambiguous tag."""


class EngineError(BfnbError):
    """An engine cannot run a graph: unknown name, missing extra, or an op it does not support.

    Raised before anything starts, so nothing is half done.
    """


class BrokerError(BfnbError):
    """An expensive call could not be made."""


class MissingAPIKeyError(BrokerError):
    """A model string names a provider whose API key variable is not set."""


class RateLimited(BrokerError):
    """The provider kept answering 429 until the retry cap."""


class ProviderError(BrokerError):
    """The provider failed in a way retries did not cure."""


class UnknownModelError(ProviderError, ValueError):
    """A model name its endpoint does not have, found before anything was sent (close names listed)."""


class BudgetExceeded(BrokerError):
    """Dispatch stopped because the next call could exceed the budget."""


class LedgerError(BfnbError):
    """The ledger could not be read or written."""


class BfnbWarning(UserWarning):
    """bfnb found something damaged (a corrupt checkpoint file) and recovered without losing work."""


class LedgerWarning(BfnbWarning):
    """Damaged ledger lines were skipped or cut off: the calls they held will be sent (and paid) again."""
