"""The F helpers (``import bfnb.op.functional as F``): batchfactory's names, without its bugs."""

from __future__ import annotations

import doctest
import re

import pytest

import bfnb.op.functional as F


def test_all_names_exist_and_docstring_examples_run():
    assert sorted(F.__all__) == F.__all__
    for name in F.__all__:
        fn = getattr(F, name)
        assert fn.__doc__ and ">>>" in fn.__doc__, name
    result = doctest.testmod(F)
    assert result.failed == 0 and result.attempted >= len(F.__all__)


def test_lines():
    text = "one\r\n\n   \n  two  \nthree"
    assert F.lines(text) == ["one", "   ", "  two  ", "three"]  # the seed's result: "   " is not empty
    assert F.lines(text, strip=True) == ["one", "two", "three"]
    assert F.lines(text, non_empty=False) == ["one", "", "   ", "  two  ", "three"]
    assert F.lines("") == []


def test_label_texts_and_multiline():
    assert F.label_texts(["a", "b"], offset=0) == ["0: a", "1: b"]
    assert F.label_multiline_texts(["p1\np2"], offset=5) == ["5:\np1\np2\n\n"]  # the seed's blank line


def test_group_texts_by_length():
    assert F.group_texts_by_length([], chunk_length=10) == []
    assert F.group_texts_by_length(["x" * 50], chunk_length=10) == [["x" * 50]]
    # as the seed: each text counts its length plus one "\n", so "ab\ncd\n" (6) fits in 6, not in 5
    assert F.group_texts_by_length(["ab", "cd", "e"], chunk_length=5) == [["ab"], ["cd", "e"]]
    assert F.group_texts_by_length(["ab", "cd", "e"], chunk_length=6) == [["ab", "cd"], ["e"]]
    groups = F.group_texts_by_length(["a", "b", "c"], chunk_length=6, separator="--")
    assert groups == [["a", "b"], ["c"]]
    texts = [f"line {i}" * (i % 4 + 1) for i in range(50)]
    groups = F.group_texts_by_length(texts, chunk_length=40)
    assert F.flatten_list(groups) == texts and all(groups)
    assert all(len("\n".join(g)) < 40 or len(g) == 1 for g in groups)
    with pytest.raises(ValueError):
        F.group_texts_by_length(["a"], chunk_length=0)


def test_partition_and_parent_maps_agree():
    items = list("abcdef")
    labels = [1, 3, 4, 99]
    groups = F.partition_list_by_labels(items, labels)
    assert groups == [["a", "b"], ["c"], ["d", "e", "f"]]
    parents = F.create_parent_map_by_labels(labels, len(items))
    assert parents == {1: 1, 2: 1, 3: 2, 4: 3, 5: 3, 6: 3}
    children = F.create_children_map(parents)
    assert [[items[c - 1] for c in kids] for kids in children.values()] == groups
    # no label at the first item: it still opens the first group
    assert F.partition_list_by_labels(items, [4]) == [["a", "b", "c"], ["d", "e", "f"]]
    assert F.create_parent_map_by_labels([4], 6)[1] == 1
    assert F.partition_list_by_labels([], [1]) == []
    assert F.partition_list_by_labels(["a", "b"], [1], offset=0) == [["a"], ["b"]]


def test_join_and_flatten():
    assert F.join_texts(["a", "b"]) == "a\nb"
    assert F.flatten_list([[1], [2, 3], [], (4,), "xy", None]) == [1, 2, 3, 4, "xy", None]


def test_label_and_chunk_texts():
    assert F.label_and_chunk_texts(["aaa", "bbb", "ccc"], chunk_length=13) == ["1: aaa", "2: bbb", "3: ccc"]
    assert F.label_and_chunk_texts(["aaa", "bbb", "ccc"], chunk_length=14) == ["1: aaa\n2: bbb", "3: ccc"]
    multi = F.label_and_chunk_texts(["p\nq", "r"], chunk_length=100, multiline=True)
    assert multi == ["1:\np\nq\n\n\n2:\nr\n\n"]  # the seed's chunks, byte for byte


def test_text_segmentation_recipe_end_to_end():
    """The batchfactory example: number lines, chunk, an LLM labels starts, regroup."""
    text = "\n".join(f"sentence {i}." for i in range(1, 11))
    lines = F.lines(text)
    chunks = F.label_and_chunk_texts(lines, chunk_length=60)
    assert F.flatten_list(c.split("\n") for c in chunks) == F.label_texts(lines)
    llm_answers = ["Scenes start at 1 and 4.", "[7, 9]"][: len(chunks)] + [""] * (len(chunks) - 2)
    labels = [F.text_to_integer_list(a) for a in llm_answers]
    new_texts, parent_map = F.postprocess_labels(labels, lines)
    assert new_texts[0] == "sentence 1.\n\nsentence 2.\n\nsentence 3."
    assert len(new_texts) == 4 and parent_map[10] == 4


def test_remove_markup_header():
    assert F.remove_markup_header("# A\n\n## B\ntext #not\n#tag") == "A\n\nB\ntext #not\n#tag"
    assert F.remove_markup_header("#\nx") == "\nx"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("**Teacher**: Hello.", "Hello."),
        ("**Teacher:** Hello.", "Hello."),
        ("Teacher: Hello.", "Hello."),
        ("  Student：好的", "好的"),
        ("老师：你好", "你好"),
        ("Mary Jane Watson: hi", "hi"),
        ("Dr. Smith: hi", "hi"),
        ("Note: keep me", "Note: keep me"),
        ("**Answer**: keep me", "**Answer**: keep me"),
        ("注意：保留", "注意：保留"),
        ("the time is: now", "the time is: now"),
        ("One Two Three Four: too long", "One Two Three Four: too long"),
        ("https://example.com", "https://example.com"),
        ("Plain sentence.", "Plain sentence."),
        ("Teacher: a\nStudent: b", "a\nStudent: b"),
    ],
)
def test_remove_speaker_tag(line, expected):
    assert F.remove_speaker_tag(line) == expected


def test_split_and_remove_cot():
    assert F.split_cot("<think>\nreason\n</think>\n\nAnswer") == ("Answer", "reason")
    assert F.split_cot("reason only</think>Answer") == ("Answer", "reason only")
    assert F.split_cot("<think>cut off while thinking") == ("", "cut off while thinking")
    assert F.split_cot("  no tags  ") == ("  no tags  ", "")
    assert F.remove_cot("<think>a</think>b</think>c") == "b</think>c"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 2 3", [1, 2, 3]),
        ("1, 2, 3", [1, 2, 3]),
        ("[4,5]", [4, 5]),
        ("Lines 12 and 40 start scenes.", [12, 40]),
        ("-3 and 7", [-3, 7]),
        ("1-3", [1, 3]),
        ("", []),
        ("none found", []),
        ("line12", [12]),
    ],
)
def test_text_to_integer_list(text, expected):
    assert F.text_to_integer_list(text) == expected


def test_regex_helpers():
    assert F.discard_after("keep\n###\ndrop", r"\n#+") == "keep"
    assert F.discard_after("nothing to cut", r"\d") == "nothing to cut"
    assert F.discard_after("a1b", re.compile(r"\d")) == "a"
    assert F.get_first_regex_match("v=3, w=4", r"\d+") == "3"
    assert F.get_first_regex_match("none", r"\d+") == ""
    assert F.get_first_regex_match("none", r"\d+", default=None) is None
