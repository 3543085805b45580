"""encode_value / decode_value round trips and the strict, torn-tail-tolerant JSONL reader."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from bfnb.errors import SourceError
from bfnb.formats.jsonl import (
    decode_value,
    dumps_line,
    encode_value,
    read_jsonl,
    write_jsonl,
)


def roundtrip(v):
    return decode_value(orjson.loads(orjson.dumps(encode_value(v))))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**63),
        2**64 - 1,
        2**100,
        -(2**90),
        1.5,
        -0.0,
        1e308,
        "",
        'unicode ✓ 漢字 \U0001f600 \x00 \n "quoted"',
        [],
        {},
        [1, "a", None, [2.5, {"k": [True]}]],
        {"nested": {"deeper": {"list": [1, 2, {"x": None}]}}},
        b"",
        b"\x00\xff binary",
        {"$bytes": "x"},
        {"$ndarray": {"dtype": "<f4"}},
        {"$esc": 1},
        {"$other": [1]},
        {"$bytes": "x", "second": 2},
        [{"$float": "nan"}],
        {1: "int key", (2, 3): "tuple key", "s": "str key"},
    ],
)
def test_roundtrip_equal(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_non_finite_floats_roundtrip():
    assert math.isnan(roundtrip(float("nan")))
    assert roundtrip(float("inf")) == float("inf")
    assert roundtrip(float("-inf")) == float("-inf")


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        np.array([[1, 2], [3, 4]], dtype=">i2"),
        np.zeros((0, 5)),
        np.array(3.5),
        np.array(["ab", "ç"]),
        np.array([1 + 2j], dtype=np.complex64),
        np.array([True, False]),
        np.arange(6, dtype=np.uint8).reshape(2, 3).T,  # not C-contiguous
        np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8", (2,)), ("c", [("x", "u1")])]),
    ],
)
def test_ndarray_roundtrip_exact(arr):
    out = roundtrip(arr)
    assert isinstance(out, np.ndarray)
    assert out.dtype == arr.dtype and out.shape == arr.shape
    assert np.array_equal(out, arr)
    out.flat[0:1] = out.flat[0:1]  # the decoded array owns writable memory


def test_object_ndarray_roundtrip():
    arr = np.array([1, "a", None, b"x"], dtype=object)
    out = roundtrip(arr)
    assert out.dtype == object and out.tolist() == arr.tolist()


def test_numpy_scalars_become_python_numbers_and_tuples_lists():
    assert encode_value(np.float32(1.5)) == 1.5
    assert type(encode_value(np.int64(3))) is int
    assert encode_value(np.bool_(True)) is True
    assert roundtrip((1, (2, 3))) == [1, [2, 3]]
    dt = roundtrip(np.datetime64("2024-01-02"))
    assert dt == np.datetime64("2024-01-02") and isinstance(dt, np.datetime64)


def test_unsupported_type_is_a_clear_error():
    with pytest.raises(TypeError, match="set"):
        encode_value({1, 2})


def test_user_dict_shaped_like_a_tag_is_escaped():
    enc = encode_value({"$bytes": "not base64!"})
    assert enc == {"$esc": {"$bytes": "not base64!"}}
    assert decode_value(enc) == {"$bytes": "not base64!"}


def test_write_and_read_jsonl(tmp_path):
    p = tmp_path / "out" / "d.jsonl"
    recs = [{"idx": "a", "x": np.ones(2)}, {"idx": "b", "x": None, "y": "$5"}]
    assert write_jsonl(p, recs) == 2
    got = list(read_jsonl(p))
    assert [n for n, _ in got] == [1, 2]
    assert np.array_equal(got[0][1]["x"], np.ones(2))
    assert got[1][1] == {"idx": "b", "x": None, "y": "$5"}
    raw = list(read_jsonl(p, decode=False))
    assert "$ndarray" in raw[0][1]["x"]


def test_blank_lines_skipped_and_numbered_from_one(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"a":1}\n\n   \r\n{"a":2}\r\n')
    assert list(read_jsonl(p)) == [(1, {"a": 1}), (4, {"a": 2})]


def test_malformed_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":2}\n{"a": oops}\n{"a":4}\n')
    with pytest.raises(SourceError) as e:
        list(read_jsonl(p))
    assert str(p) in str(e.value) and "line 3" in str(e.value)


def test_non_object_line_is_an_error(tmp_path):
    p = tmp_path / "list.jsonl"
    p.write_bytes(b'{"a":1}\n[1,2]\n')
    with pytest.raises(SourceError, match="line 2"):
        list(read_jsonl(p))


def test_invalid_utf8_names_line_and_byte_offset(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(b'{"a":"ok"}\n{"a":"caf\xe9"}\n')
    with pytest.raises(SourceError) as e:
        list(read_jsonl(p))
    msg = str(e.value)
    assert str(p) in msg and "line 2" in msg and "UTF-8" in msg
    assert "byte offset 20" in msg  # 11 bytes of line 1, then '{"a":"caf' (9 bytes)


def test_torn_last_line(tmp_path):
    p = tmp_path / "torn.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":2}\n{"a":3, "b": "unfini')
    with pytest.raises(SourceError, match="line 3"):
        list(read_jsonl(p))
    assert list(read_jsonl(p, tolerate_torn_tail=True)) == [(1, {"a": 1}), (2, {"a": 2})]


def test_torn_tail_tolerance_never_hides_a_bad_middle_line(tmp_path):
    p = tmp_path / "mid.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":\n{"a":3}')
    with pytest.raises(SourceError, match="line 2"):
        list(read_jsonl(p, tolerate_torn_tail=True))


def test_complete_last_line_without_newline_is_read(tmp_path):
    p = tmp_path / "nonl.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":2}')
    assert list(read_jsonl(p)) == [(1, {"a": 1}), (2, {"a": 2})]


def test_json_array_and_single_object(tmp_path):
    arr = tmp_path / "a.json"
    arr.write_bytes(orjson.dumps([{"x": 1}, {"x": encode_value(b"z")}]))
    assert list(read_jsonl(arr)) == [(1, {"x": 1}), (2, {"x": b"z"})]
    one = tmp_path / "o.json"
    one.write_bytes(b'{"x": [1, 2]}')
    assert list(read_jsonl(one)) == [(1, {"x": [1, 2]})]
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'[{"x": 1},\n 3]')
    with pytest.raises(SourceError, match="item 2"):
        list(read_jsonl(bad))
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'[{"x": 1},\n {"x": ]')
    with pytest.raises(SourceError, match="line 2"):
        list(read_jsonl(broken))


def test_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match=r"nope\.jsonl"):
        list(read_jsonl(tmp_path / "nope.jsonl"))


def test_dumps_line_is_one_line():
    line = dumps_line({"idx": "a", "t": "multi\nline", "b": b"\n"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1


def test_docstring_examples_run():
    import doctest

    from bfnb.formats import jsonl as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
