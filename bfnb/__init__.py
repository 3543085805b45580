"""bfnb: Jupyter-first, cache-aware pipelines of LLM calls over pandas data.

    import bfnb as bf
    from bfnb.op import *

    g = bf.Graph() | ReadMarkdownLines("demo_data/greek_mythology_stories.md")
    g |= Shuffle(seed=42) | TakeFirstN(5)
    g |= AskLLM("Write a poem about {keyword}.", model="gpt-4o-mini@openai")
"""

from __future__ import annotations

from ._version import __version__
from .errors import (
    BfnbError,
    BrokerError,
    BudgetExceeded,
    DuplicateIdxError,
    GraphError,
    LedgerError,
    LoopLimitError,
    MissingAPIKeyError,
    MissingFieldError,
    OpError,
    ProviderError,
    RateLimited,
    SourceError,
    UserFunctionError,
)
from .graph import Graph
from .project import ProjectFolder

__all__ = [
    "BfnbError",
    "BrokerError",
    "BudgetExceeded",
    "DuplicateIdxError",
    "Graph",
    "GraphError",
    "LedgerError",
    "LoopLimitError",
    "MissingAPIKeyError",
    "MissingFieldError",
    "OpError",
    "ProjectFolder",
    "ProviderError",
    "RateLimited",
    "SourceError",
    "UserFunctionError",
    "__version__",
]
