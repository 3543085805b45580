"""The op namespace: ``from bfnb.op import *`` gives every op of the seed API.

Ops live in one module per family (fromlist, sources, sinks, fields, rows, control, fanout, checkpoint, llm,
embed, characters, ask_human); this module maps each public name to its module and imports it on first use.
"""

from __future__ import annotations

from .._lazy import lazy_names

_FAMILIES: dict[str, list[str]] = {
    "fromlist": ["FromList"],
    "sources": ["ReadJsonl", "ReadMarkdownEntries", "ReadMarkdownLines", "ReadParquet", "ReadTxtFolder"],
    "sinks": [
        "OutputEntries",
        "PrintEntry",
        "PrintField",
        "ToList",
        "WriteJsonl",
        "WriteMarkdownEntries",
        "WriteMarkdownLines",
        "WriteParquet",
        "WriteTxtFolder",
    ],
    "fields": ["Apply", "MapField", "RemoveField", "RenameField", "SetField"],
    "rows": [
        "ExcludeIdx",
        "Filter",
        "FilterFailedEntries",
        "FilterMissingFields",
        "IncludeIdx",
        "SampleProportion",
        "SamplePropotion",
        "Shuffle",
        "Sort",
        "SortMarkdownEntries",
        "TakeFirstN",
    ],
    "control": ["BeginIf", "CollectField", "EndIf", "If", "Repeat", "Replicate", "While"],
    "fanout": ["CollectAllToList", "ExplodeList", "ListParallel", "SpawnFromList"],
    "checkpoint": ["CheckPoint"],
    "llm": ["AskLLM", "CallLLM", "CleanupLLMData", "ExtractResponseText", "GenerateLLMRequest", "PromptMaker"],
    "embed": [
        "CallLLMEmbedding",
        "DecodeBase64Embedding",
        "EmbedText",
        "ExtractResponseEmbedding",
        "GenerateLLMEmbeddingRequest",
    ],
    "characters": ["AICharacter", "ChatHistoryToText", "TransformCharacterDialogueForLLM", "UpdateChatHistory"],
    "ask_human": ["AskHuman"],
    "keywords": ["BrokerFailureBehavior"],
}

_WHERE = {name: module for module, names in _FAMILIES.items() for name in names}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_names(__name__, {k: f".{v}" for k, v in _WHERE.items()}, globals())
