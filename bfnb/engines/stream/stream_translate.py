"""How the stream engine runs each op: one registration per op family (ibis-style single dispatch).

A :class:`Step` says how an op treats a stream of chunks:

* ``rowwise`` — the op's result on a concatenation of chunks is the concatenation of its results
  on each chunk (maps, filters, field edits, explode, per-entry request building); run per chunk;
* ``broker`` — row-wise too, but each chunk waits on paid calls, so several chunks are in flight
  at once (calls overlap across chunks); the ledger makes every call durable as it completes;
* ``take`` — ``TakeFirstN``: passes the first rows on and then stops reading its input;
* ``writer`` — ``WriteJsonl``: appends each chunk to a temporary file, published atomically at the
  end of the run (still one write per run);
* ``permute`` — ``Sort`` (by fields) and ``Shuffle``: only reorder rows, decided by a few fields,
  so they spill their input to disk and reorder it by buckets (:mod:`.spill`) in bounded memory;
* ``barrier`` — anything else (sort, shuffle, sample, collectors, loops, checkpoints, other writers):
  gathers its whole input, runs once, and its output is cut into chunks again.

Unregistered ops are barriers, which is always correct; registering an op as ``rowwise`` is a
promise the conformance suite (``tests/engines/``) checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import Literal

from ...op import characters, embed, fanout, fields, llm, rows, sinks
from ...op.op import Op
from ..engine_auto import chunked_source  # re-exported: decided without importing this engine

__all__ = ["Step", "chunked_source", "step"]

Kind = Literal["rowwise", "broker", "take", "writer", "permute", "barrier"]


@dataclass(frozen=True)
class Step:
    kind: Kind
    op: Op


@singledispatch
def step(op: Op) -> Step:
    """How the stream engine runs ``op`` (a barrier unless registered otherwise)."""
    return Step("barrier", op)


_ROWWISE = (
    fields.MapField,
    fields.Apply,
    fields.SetField,
    fields.RemoveField,
    fields.RenameField,
    rows.Filter,
    rows.FilterFailedEntries,
    rows.FilterMissingFields,
    rows.IncludeIdx,  # ExcludeIdx subclasses it
    rows.SampleProportion,  # kept or not by its own idx and the seed
    fanout.ExplodeList,
    llm.GenerateLLMRequest,
    llm.ExtractResponseText,
    llm.CleanupLLMData,
    embed.GenerateLLMEmbeddingRequest,
    embed.ExtractResponseEmbedding,
    embed.DecodeBase64Embedding,
    characters.UpdateChatHistory,
    characters.ChatHistoryToText,
    characters.TransformCharacterDialogueForLLM,
    sinks.PrintEntry,
    sinks.PrintField,
)
for _cls in _ROWWISE:
    step.register(_cls)(lambda op: Step("rowwise", op))

for _broker_cls in (llm.AskLLM, llm.CallRequests, embed.EmbedText):
    step.register(_broker_cls)(lambda op: Step("broker", op))


@step.register
def _(op: rows.TakeFirstN) -> Step:
    return Step("take", op)


@step.register
def _(op: rows.Shuffle) -> Step:
    return Step("permute", op)


@step.register
def _(op: rows.Sort) -> Step:
    return Step("permute" if op.keys else "barrier", op)  # a custom_func of the whole entry: gather


@step.register
def _(op: sinks.WriteJsonl) -> Step:
    return Step("writer", op)
