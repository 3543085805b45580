"""ReadJsonl's idx and values, pinned: a faster reader must give exactly what the first one gave.

The idx of a record read without an explicit idx is a content hash; users' checkpoints and ledger
origins are keyed by it, so a reader that changed it would orphan them.  These figures were
produced by the reader as it stood at commit 38ea024 (orjson line by line) for the file below, with
one deliberate change (issue #11): the integer beyond 64 bits on the "big" line is read exactly (it
was a float), so that record's content hash changed from 43a70a63da5e9d53 to a7948d3655684de9.
"""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.op import FromList, ReadJsonl

LINES = [
    '{"text": "hello", "n": 1}',
    '{"n": 1, "text": "hello", "extra": null}',
    '{"text": "caf\\u00e9 \\u4e2d\\u6587", "score": 0.5, "ok": true}',
    "",
    '{"text": "list", "tags": ["a", "b"], "nested": {"k": [1, 2.5, null]}}',
    '{"idx": "own-1", "rev": 2, "text": "kept"}',
    '{"idx": 42, "text": "int idx"}',
    "   ",
    '{"text": "bytes", "raw": {"$bytes": "aGk="}}',
    '{"text": "big", "n": 123456789012345678901234567890}',
    '{"text": "float one", "n": 1.0}',
    '{"text": "", "n": -3, "f": 1e300}',
]

IDX = ["de15f1d8b60e0117", "d210fb3768ef7af1", "f849ce338ad8eee1", "ae32d0bb03c69fba", "own-1", "42",
       "43b0582769dba719", "a7948d3655684de9", "21fc5f8bba0e74ec", "da5dc6253d529142"]  # fmt: skip
HASH_KEYS_IDX = ["5f150f2d83698964", "f212f7f570eb285c", "9dab4be42cce50f7", "39cec5da5a6b8860",
                 "c640abd302d31e29", "a7948d3655684de9", "21fc5f8bba0e74ec", "ad11aa19ac096aa3"]  # fmt: skip
N = None
COLUMNS = {
    "text": ["hello", "hello", "café 中文", "list", "kept", "int idx", "bytes", "big", "float one", ""],
    "n": [1, 1, N, N, N, N, N, 123456789012345678901234567890, 1.0, -3],  # exact, not a float (#11)
    "extra": [N] * 10,
    "score": [N, N, 0.5, N, N, N, N, N, N, N],
    "ok": [N, N, True, N, N, N, N, N, N, N],
    "tags": [N, N, N, ["a", "b"], N, N, N, N, N, N],
    "nested": [N, N, N, {"k": [1, 2.5, None]}, N, N, N, N, N, N],
    "raw": [N, N, N, N, N, N, b"hi", N, N, N],
    "f": [N, N, N, N, N, N, N, N, N, 1e300],
}


def _typed(values):
    return [(type(v), v) for v in values]


def test_readjsonl_gives_the_pinned_idx_and_values(tmp_path):
    p = tmp_path / "sample.jsonl"
    p.write_text("\ufeff" + "\n".join(LINES) + "\n", encoding="utf-8")
    df = ReadJsonl(p).to_graph().run()
    assert df.index.tolist() == IDX
    assert df["rev"].tolist() == [0, 0, 0, 0, 2, 0, 0, 0, 0, 0]
    assert list(df.columns) == ["rev", *COLUMNS]
    for name, values in COLUMNS.items():
        assert _typed(df[name].tolist()) == _typed(values), name  # 1 stays int, 1.0 float, True bool
    by_hash = tmp_path / "subset.jsonl"
    by_hash.write_text("\n".join(LINES[2:]) + "\n", encoding="utf-8")
    assert ReadJsonl(by_hash, hash_keys=["text", "n"]).to_graph().run().index.tolist() == HASH_KEYS_IDX


def test_readjsonl_and_fromlist_agree_on_the_same_records(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join(LINES[:3]) + "\n", encoding="utf-8")
    records = [
        {"text": "hello", "n": 1},
        {"n": 1, "text": "hello", "extra": None},
        {"text": "café 中文", "score": 0.5, "ok": True},
    ]
    assert ReadJsonl(p).to_graph().run().index.tolist() == FromList(records).to_graph().run().index.tolist() == IDX[:3]


@pytest.mark.parametrize(
    ("content", "line", "what"),
    [
        ('{"a": 1}\n{"a": \n{"a": 3}\n', 2, "malformed JSON"),
        ('{"a": 1}\n\n[1, 2]\n', 3, "expected a JSON object"),
        ('{"a": 1}\n{"a": "\xff"}\n', 2, "invalid UTF-8"),
    ],
)
def test_readjsonl_names_the_file_and_line_of_a_bad_line(tmp_path, content, line, what):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content.encode("latin-1") if "\xff" in content else content.encode())
    with pytest.raises(bf.SourceError, match=rf"bad\.jsonl'? line {line}.*{what}|bad\.jsonl'? line {line}: {what}"):
        ReadJsonl(p).to_graph().run()


@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 20])
def test_reading_in_blocks_gives_the_same_records_and_line_numbers(tmp_path, block_bytes):
    from bfnb.formats.jsonl import read_jsonl
    from bfnb.formats.jsonl_blocks import iter_jsonl_blocks

    p = tmp_path / "sample.jsonl"
    p.write_text("\ufeff" + "\n".join(LINES) + "\n" + '{"last": "no newline"}', encoding="utf-8")
    want = list(read_jsonl(p))
    got = [(int(n), r) for recs, nums in iter_jsonl_blocks(p, block_bytes) for n, r in zip(nums, recs, strict=True)]
    assert got == want


def test_the_stream_engine_reads_the_pinned_idx(tmp_path):
    p = tmp_path / "sample.jsonl"
    p.write_text("\ufeff" + "\n".join(LINES) + "\n", encoding="utf-8")
    assert ReadJsonl(p).to_graph().run(engine="stream").index.tolist() == IDX
