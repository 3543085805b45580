"""Brokers: the asyncio machinery that runs expensive calls well.

A broker takes :class:`Job`\\ s (a content key and a provider request body), sends each distinct key
once with bounded concurrency, RPM/TPM pacing, retries and a budget, and hands every finished call
to the caller's ``on_record`` as a :class:`~bfnb.ledger.records.CallRecord`.  It knows nothing of
DataFrames, graphs, widgets or the ledger.  :func:`get_broker` returns the process-wide broker for a
``model@provider``; :class:`FunctionBroker` makes one from a plain function (the offline model and
tests use it).
"""

from __future__ import annotations

from .batch_api import BatchAPIBroker
from .broker import Broker, BrokerSnapshot, Job, RunResult
from .budget import BudgetTracker
from .chat_broker import ChatBroker
from .config import DEFAULT_RATE_LIMITS, DEFAULT_RETRY, Budget, RateLimits, Retry
from .embedding import EmbeddingBroker
from .function import FunctionBroker
from .registry import all_brokers, get_broker

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RETRY",
    "BatchAPIBroker",
    "Broker",
    "BrokerSnapshot",
    "Budget",
    "BudgetTracker",
    "ChatBroker",
    "EmbeddingBroker",
    "FunctionBroker",
    "Job",
    "RateLimits",
    "Retry",
    "RunResult",
    "all_brokers",
    "get_broker",
]
