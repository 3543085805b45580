"""bfnb: Jupyter-first, cache-aware pipelines of LLM calls over pandas data.

    import bfnb as bf
    from bfnb.op import *

    g = bf.Graph() | ReadMarkdownLines("demo_data/greek_mythology_stories.md")
    g |= Shuffle(seed=42) | TakeFirstN(5)
    g |= AskLLM("Write a poem about {keyword}.", model=bf.default_model())

The names below are the public face; heavier ones (brokers, ledger, displays) load on first use,
so ``import bfnb`` stays quick and never imports ipywidgets, IPython or the openai client.
"""

from __future__ import annotations

from typing import Any

from ._lazy import lazy_names
from ._version import __version__
from .engine_runner import install as _install_runner
from .entry import Entry
from .errors import (
    BfnbError,
    BfnbWarning,
    BrokerError,
    BudgetExceeded,
    DuplicateIdxError,
    EngineError,
    GraphError,
    LedgerError,
    LedgerWarning,
    LoopLimitError,
    MissingAPIKeyError,
    MissingFieldError,
    OpError,
    PathError,
    ProviderError,
    RateLimited,
    SourceError,
    UnknownModelError,
    UserFunctionError,
    WriteError,
)
from .graph import Graph
from .options import default_embedding_model, default_model, options
from .project import ProjectFolder

_LAZY = {
    "BasicPromptMaker": "bfnb.op.prompts",
    "BatchTable": "bfnb.display",
    "Budget": "bfnb.brokers.config",
    "CallRecord": "bfnb.ledger",
    "CompareView": "bfnb.display",
    "Ledger": "bfnb.ledger",
    "PromptMaker": "bfnb.op.prompts",
    "RateLimits": "bfnb.brokers.config",
    "Service": "bfnb.op.service_call",
    "Retry": "bfnb.brokers.config",
    "Timeouts": "bfnb.brokers.config",
    "all_brokers": "bfnb.brokers.registry",
    "broker_op": "bfnb.op.service_call",
    "compare": "bfnb.compare",
    "versions": "bfnb.versioning",
    "get_broker": "bfnb.brokers.registry",
    "pack": "bfnb.formats.packing",
    "register_price": "bfnb.brokers.pricing",
    "register_provider": "bfnb.brokers.providers",
    "unpack": "bfnb.formats.packing",
}
_LAZY_MODULES = {
    "base64": "bfnb.formats.base64_utils",
    "markdown": "bfnb.formats.markdown_utils",
    "testing": "bfnb.testing",
}

__all__ = [
    "BasicPromptMaker",
    "BatchTable",
    "BfnbError",
    "BfnbWarning",
    "BrokerError",
    "Budget",
    "BudgetExceeded",
    "CallRecord",
    "CompareView",
    "DuplicateIdxError",
    "EngineError",
    "Entry",
    "Graph",
    "GraphError",
    "Ledger",
    "LedgerError",
    "LedgerWarning",
    "LoopLimitError",
    "MissingAPIKeyError",
    "MissingFieldError",
    "OpError",
    "PathError",
    "ProjectFolder",
    "PromptMaker",
    "ProviderError",
    "RateLimited",
    "RateLimits",
    "Retry",
    "Service",
    "SourceError",
    "Timeouts",
    "UnknownModelError",
    "UserFunctionError",
    "WriteError",
    "__version__",
    "all_brokers",
    "broker_op",
    "compare",
    "default_embedding_model",
    "default_model",
    "get_broker",
    "options",
    "pack",
    "register_price",
    "register_provider",
    "unpack",
    "versions",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), modules=_LAZY_MODULES)


def _live_progress(brokers_getter: Any) -> Any:
    """A live panel in Jupyter, tqdm bars and a summary line elsewhere (imported when first used)."""
    from .widgets import live_progress

    return live_progress(brokers_getter)


from ._ipython import install as _install_ipython  # noqa: E402
from .op import progress as _progress  # noqa: E402


def _all_brokers() -> list[Any]:
    import sys

    registry = sys.modules.get("bfnb.brokers.registry")  # no broker exists before it is imported
    return list(registry.all_brokers()) if registry is not None else []


_install_runner()  # Graph.run and friends reach the engines through this one entry (bfnb.graph.runner)
_progress.set_display(_live_progress)
_progress.set_brokers(_all_brokers)
_install_ipython()
