"""ReadJsonl's fast path for plain files (pyarrow) gives exactly what the careful path gives.

A plain file (flat records, every field in every line, text/int/float/bool) is read by pyarrow;
anything else goes the careful way (orjson line by line).  A blank first line sends the same
records the careful way, so each case below compares the two readings of one content.  The
pinned figures were produced by the reader before the fast path existed (commit 1f6d8ee).
"""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.formats.jsonl_arrow import plain_columns
from bfnb.op import ReadJsonl

PLAIN = [
    '{"text": "caf\\u00e9 \\ud83d\\ude00", "n": 1, "score": 0.25, "ok": true, "day": "2024-01-02", "when": "2024-01-02"}',
    '{"n": -7, "text": "", "score": -1.5e-7, "ok": false, "day": "2024-01-03 10:00:00", "when": "2024-01-03 10:00:00"}',
    '{"text": "tab\\t and \\"quotes\\"", "n": 9223372036854775807, "score": 3.141592653589793, "ok": true, "day": "x", "when": "2025-12-31"}',
]
PINNED_IDX = ["f22b3ffd46528b84", "66cf6afcce8865fd", "7a7a2284393d7a78"]
PINNED_HASH_KEYS_IDX = ["3dd109d054daf341", "7feca382ff15adf5", "1b20ba0d13ffb1f1"]
PINNED = {
    "text": ["café 😀", "", 'tab\t and "quotes"'],
    "n": [1, -7, 9223372036854775807],
    "score": [0.25, -1.5e-07, 3.141592653589793],
    "ok": [True, False, True],
    "day": ["2024-01-02", "2024-01-03 10:00:00", "x"],
    "when": ["2024-01-02", "2024-01-03 10:00:00", "2025-12-31"],
}


def _typed(values):
    return [(type(v), v) for v in values]


def _same(a, b):
    assert a.index.tolist() == b.index.tolist()
    assert list(a.columns) == list(b.columns)
    assert a.dtypes.tolist() == b.dtypes.tolist()
    for c in a.columns:
        assert _typed(a[c].tolist()) == _typed(b[c].tolist()), c


def _write(tmp_path, name, lines, blank_first=False):
    p = tmp_path / name
    p.write_text(("\n" if blank_first else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("engine", ["local", "stream"])
def test_a_plain_file_read_fast_gives_the_pinned_idx_values_and_types(tmp_path, engine):
    p = _write(tmp_path, "plain.jsonl", PLAIN)
    assert plain_columns(p.read_bytes()) is not None  # the fast path is taken
    df = ReadJsonl(p).to_graph().run(engine=engine)
    assert df.index.tolist() == PINNED_IDX
    assert list(df.columns) == ["rev", *PINNED]
    for name, values in PINNED.items():
        assert _typed(df[name].tolist()) == _typed(values), name
    assert df["n"].dtype == "int64" and df["score"].dtype == "float64" and df["ok"].dtype == bool
    by_keys = ReadJsonl(p, hash_keys=["n", "ok"]).to_graph().run(engine=engine)
    assert by_keys.index.tolist() == PINNED_HASH_KEYS_IDX
    careful = ReadJsonl(_write(tmp_path, "careful.jsonl", PLAIN, blank_first=True)).to_graph().run(engine=engine)
    _same(df, careful)


@pytest.mark.parametrize(
    "lines",
    [
        ['{"a": 1, "b": "x"}', '{"a": 2.5, "b": "y"}'],  # an int and a float: kept apart
        ['{"a": 1.0, "b": "x"}', '{"a": 2.5, "b": "y"}'],  # 1.0 stays a float
        ['{"a": 1, "b": "x"}', '{"b": "y"}'],  # a missing field
        ['{"a": 1, "b": null}', '{"a": 2, "b": "y"}'],  # a null
        ['{"a": [1, 2], "b": "x"}', '{"a": [], "b": "y"}'],  # a list
        ['{"a": {"$bytes": "aGk="}}', '{"a": {"$bytes": "aA=="}}'],  # a bfnb tag
        ['{"a": 123456789012345678901234567890}', '{"a": 5}'],  # an int past 64 bits
        ['{"a": 18446744073709551615}', '{"a": 5}'],  # past int64, within uint64
        ['{"a": 1, "a": 2}', '{"a": 3}'],  # a field given twice: the last wins, as orjson reads it
        ['{"b": 1, "a": 2}', '{"a": 3, "b": 4}'],  # field order from the first record
        ['{"idx": "k1", "a": 1}', '{"idx": "k2", "a": 2}'],  # an own idx
        ['{"a": true}', '{"a": false}'],
    ],
)
def test_records_the_fast_path_cannot_read_exactly_are_read_the_careful_way(tmp_path, lines):
    for engine in ("local", "stream"):
        fast = ReadJsonl(_write(tmp_path, "a.jsonl", lines)).to_graph().run(engine=engine)
        careful = ReadJsonl(_write(tmp_path, "b.jsonl", lines, blank_first=True)).to_graph().run(engine=engine)
        _same(fast, careful)


@pytest.mark.parametrize(
    ("lines", "line", "what"),
    [
        (['{"a": 1}', '{"a": NaN}'], 2, ""),  # pyarrow takes NaN; JSON has none
        (['{"a": 1.5}', '{"a": Infinity}'], 2, ""),
        (['{"a": 1}', '{"a": 2}{"a": 3}'], 2, ""),  # two objects on a line: pyarrow would take both
        (['{"a": 1}', '{"a": 2', '{"a": 3}'], 2, "malformed JSON"),
    ],
)
def test_a_bad_line_in_a_plain_looking_file_is_named(tmp_path, lines, line, what):
    p = _write(tmp_path, "bad.jsonl", lines)
    for engine in ("local", "stream"):
        with pytest.raises(bf.SourceError, match=rf"bad\.jsonl'? line {line}\b.*{what}"):
            ReadJsonl(p).to_graph().run(engine=engine, use_memo=False)


def test_several_plain_files_read_as_one(tmp_path):
    (tmp_path / "d").mkdir()
    _write(tmp_path, "d/1.jsonl", PLAIN[:2])
    _write(tmp_path, "d/2.jsonl", PLAIN[2:])
    df = ReadJsonl(str(tmp_path / "d" / "*.jsonl")).to_graph().run(engine="local")
    assert df.index.tolist() == PINNED_IDX
    assert _typed(df["n"].tolist()) == _typed(PINNED["n"])


def test_a_duplicate_in_a_plain_file_names_both_lines(tmp_path):
    p = _write(tmp_path, "dup.jsonl", ['{"a": "x"}', '{"a": "y"}', '{"a": "x"}'])
    for engine in ("local", "stream"):
        with pytest.raises(bf.DuplicateIdxError, match=r"dup\.jsonl:1 and .*dup\.jsonl:3"):
            ReadJsonl(p).to_graph().run(engine=engine, use_memo=False)


def test_a_duplicate_across_a_plain_block_and_a_careful_one_is_found(tmp_path, monkeypatch):
    """The stream engine reads a file in blocks: one read fast (content-hash idx), the next the
    careful way (an own idx that equals that hash); the duplicate is named all the same."""
    from bfnb.formats import jsonl_blocks

    one = _write(tmp_path, "one.jsonl", ['{"a": "x"}'])
    (h,) = ReadJsonl(one).to_graph().run(engine="local").index.tolist()
    p = _write(tmp_path, "dup.jsonl", ['{"a": "x"}', '{"a": "y"}', f'{{"idx": "{h}", "b": 1}}'])
    monkeypatch.setattr(jsonl_blocks, "BLOCK_BYTES", 24)  # a block a line
    for engine in ("stream", "local"):
        with pytest.raises(bf.DuplicateIdxError, match=r"dup\.jsonl:1 and .*dup\.jsonl:3"):
            ReadJsonl(p).to_graph().run(engine=engine, use_memo=False)


@pytest.mark.parametrize(
    ("body", "lines"),
    [(b'{"a":1}\n{"a":2}', 2), (b'{"a":1}\n{"a":2}\n', 2), (b'{"a":1}\r\n{"a":2}\r\n', 2), (b'{"a":1}\n\n{"a":2}\n', None),
     (b'{"a":1}\n  {"a":2}\n', None), (b' {"a":1}\n', None), (b'{"a":1}\n{"a":2}\n\n', None), (b"", None)],
)  # fmt: skip
def test_the_fast_path_counts_lines_only_when_each_starts_an_object(body, lines):
    from bfnb.formats.jsonl_arrow import _object_lines

    assert _object_lines(body) == _object_lines(body, step=1) == _object_lines(body, step=3) == lines


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_records_with_optional_fields_read_fast_give_what_the_careful_path_gives(tmp_path, monkeypatch, seed):
    """Fields some records lack (no null anywhere): read fast, with the careful path's idx, values,
    types and first-seen field order, on both engines, also across the stream engine's blocks."""
    import random

    import orjson

    from bfnb.formats import jsonl_blocks

    rng = random.Random(seed)
    makers = {"s": lambda i: f"t{i}é", "i": lambda i: i * 7 - 50, "f": lambda i: i + 0.25, "b": lambda i: i % 3 == 0}
    lines = []
    for i in range(300):
        names = rng.sample(["i", "f", "b"], rng.randint(0, 3)) if i >= 5 else []  # later records bring new fields
        names.insert(rng.randint(0, len(names)), "s")  # every record has "s" (unique), somewhere
        lines.append(orjson.dumps({k: makers[k](i) for k in names}).decode())
    fast_file = _write(tmp_path, "fast.jsonl", lines)
    found = plain_columns(fast_file.read_bytes())
    assert found is not None and found[1]  # the fast path is taken, with fields some records lack
    careful_file = _write(tmp_path, "careful.jsonl", lines, blank_first=True)
    for engine in ("local", "stream"):
        fast = ReadJsonl(fast_file).to_graph().run(engine=engine, use_memo=False)
        careful = ReadJsonl(careful_file).to_graph().run(engine=engine, use_memo=False)
        _same(fast, careful)
        by_keys = ReadJsonl(fast_file, hash_keys=["s", "b"]).to_graph().run(engine=engine, use_memo=False)
        _same(by_keys, ReadJsonl(careful_file, hash_keys=["s", "b"]).to_graph().run(engine=engine, use_memo=False))
    monkeypatch.setattr(jsonl_blocks, "BLOCK_BYTES", 2000)  # many blocks, each with its own missing fields
    _same(ReadJsonl(fast_file).to_graph().run(engine="stream", use_memo=False), careful)


def test_fields_keep_their_first_seen_order_when_pyarrow_reads_in_several_blocks(tmp_path):
    """pyarrow orders the fields of a file it reads in several blocks its own way; the batch has
    them in the order the records first show them, as the careful path does (3.4 MB, seed chosen
    so that pyarrow's order differs)."""
    import random

    import orjson

    rng = random.Random(0)
    keys = [f"k{i}" for i in range(8)]
    lines = []
    for i in range(4000):
        ks = rng.sample(keys, rng.randint(1, 8))
        ks = ks if i >= 50 else [k for k in ks if k in keys[:3]] or ["k0"]
        lines.append(orjson.dumps({**{k: i for k in ks}, "pad": "x" * 800}).decode())
    fast_file = _write(tmp_path, "fast.jsonl", lines)
    found = plain_columns(fast_file.read_bytes())
    assert found is not None and list(found[0]) == ["k0", "k2", "k1", "pad", "k7", "k6", "k3", "k4", "k5"]
    careful = ReadJsonl(_write(tmp_path, "careful.jsonl", lines, blank_first=True)).to_graph().run(engine="local")
    _same(ReadJsonl(fast_file).to_graph().run(engine="local"), careful)
