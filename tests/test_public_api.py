"""The two public faces: ``bfnb`` and ``bfnb.op``; and imports that must stay optional."""

from __future__ import annotations

import subprocess
import sys

import bfnb as bf
import bfnb.op


def test_bfnb_all_is_sorted_and_every_name_resolves():
    assert bf.__all__ == sorted(bf.__all__)
    for name in bf.__all__:
        assert getattr(bf, name) is not None, name


def test_op_namespace_has_the_seed_ops():
    seed_ops = """AICharacter AskLLM EmbedText If ListParallel While Apply CheckPoint CollectAllToList CollectField
    ExcludeIdx ExplodeList Filter FilterFailedEntries FilterMissingFields FromList IncludeIdx MapField OutputEntries
    PrintEntry PrintField ReadJsonl ReadMarkdownEntries ReadMarkdownLines ReadParquet ReadTxtFolder RemoveField
    RenameField Repeat Replicate SamplePropotion SetField Shuffle Sort SortMarkdownEntries SpawnFromList TakeFirstN
    ToList WriteJsonl WriteMarkdownEntries WriteMarkdownLines WriteTxtFolder GenerateLLMRequest CallLLM
    ExtractResponseText GenerateLLMEmbeddingRequest CallLLMEmbedding ExtractResponseEmbedding DecodeBase64Embedding
    UpdateChatHistory ChatHistoryToText TransformCharacterDialogueForLLM SampleProportion""".split()
    assert bfnb.op.__all__ == sorted(bfnb.op.__all__)
    missing = [n for n in seed_ops if n not in bfnb.op.__all__]
    assert not missing
    namespace: dict = {}
    exec("from bfnb.op import *", namespace)
    for name in bfnb.op.__all__:
        assert name in namespace, name


def test_functional_helpers_are_importable_as_F():
    import bfnb.op.functional as F

    for name in [
        "lines",
        "label_texts",
        "group_texts_by_length",
        "partition_list_by_labels",
        "join_texts",
        "flatten_list",
        "text_to_integer_list",
        "remove_cot",
        "split_cot",
        "remove_speaker_tag",
        "get_first_regex_match",
    ]:
        assert callable(getattr(F, name)), name


def test_import_bfnb_does_not_import_optional_or_heavy_modules():
    code = "import sys, bfnb; print(sorted(m for m in ('ipywidgets', 'IPython', 'openai', 'ray', 'aiohttp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
