"""Bad input: one clear bfnb error naming op, idx and field, the cause chained, and no writer touched.

Every case builds ``source | ... | WriteJsonl(out)`` where ``out`` already holds a previous run's
result: after the error the old file must be exactly as it was, with no temporary files left.
"""

from __future__ import annotations

import pytest

import bfnb as bf
from bfnb.op import (
    Apply,
    Filter,
    FromList,
    MapField,
    ReadJsonl,
    ReadMarkdownLines,
    ReadTxtFolder,
    Sort,
    WriteJsonl,
    WriteMarkdownLines,
)

OLD = b'{"idx":"old","rev":0}\n'


@pytest.fixture
def out(tmp_path):
    p = tmp_path / "out" / "result.jsonl"
    p.parent.mkdir()
    p.write_bytes(OLD)
    return p


def run_and_check(graph, out, error_type):
    with pytest.raises(error_type) as e:
        graph.run()
    assert out.read_bytes() == OLD
    assert [p.name for p in out.parent.iterdir()] == ["result.jsonl"]
    return e.value


def people():
    return FromList([{"idx": "p1", "name": "Ann", "age": 30}, {"idx": "p2", "name": "Bob", "age": None}])


def test_missing_file(tmp_path, out):
    err = run_and_check(ReadJsonl(tmp_path / "nope.jsonl") | WriteJsonl(out), out, bf.SourceError)
    assert "nope.jsonl" in str(err) and "ReadJsonl" in str(err)


def test_missing_field_in_mapfield_filter_and_sort(out):
    for op, name in [(MapField(str, "nme"), "MapField"), (Filter(bool, "nme"), "Filter"), (Sort("nme"), "Sort")]:
        err = run_and_check(people() | op | WriteJsonl(out), out, bf.MissingFieldError)
        assert err.field == "nme" and err.idx == "p1"
        assert name in str(err) and "'nme'" in str(err)


def test_malformed_jsonl_line_names_file_and_line(tmp_path, out):
    src = tmp_path / "in.jsonl"
    src.write_text('{"a": 1}\n{"a": 2,,}\n')
    err = run_and_check(ReadJsonl(src) | WriteJsonl(out), out, bf.SourceError)
    assert "in.jsonl" in str(err) and "line 2" in str(err) and "ReadJsonl" in str(err)
    assert isinstance(err.__cause__, bf.SourceError)


def test_non_utf8_files_name_file_and_line(tmp_path, out):
    md = tmp_path / "bad.md"
    md.write_bytes(b"# Head\nok\nbad \xff byte\n")
    err = run_and_check(ReadMarkdownLines(md) | WriteJsonl(out), out, bf.SourceError)
    assert "bad.md" in str(err) and "line 3" in str(err) and "ReadMarkdownLines" in str(err)
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.txt").write_bytes(b"\xfe")
    err = run_and_check(ReadTxtFolder(tmp_path / "t") | WriteJsonl(out), out, bf.SourceError)
    assert "x.txt" in str(err) and "ReadTxtFolder" in str(err)
    js = tmp_path / "bad.jsonl"
    js.write_bytes(b'{"a": "\xff"}\n')
    err = run_and_check(ReadJsonl(js) | WriteJsonl(out), out, bf.SourceError)
    assert "UTF-8" in str(err) and "line 1" in str(err)


def test_dict_function_reading_a_missing_field(out):
    for op in (Filter(lambda d: d["nme"]), Apply(lambda d: d["nme"])):
        err = run_and_check(people() | op | WriteJsonl(out), out, bf.MissingFieldError)
        assert err.field == "nme" and err.idx == "p1" and isinstance(err.__cause__, KeyError)


def test_user_function_raising(out):
    g = people() | MapField(lambda age: age + 1, "age") | WriteJsonl(out)
    err = run_and_check(g, out, bf.UserFunctionError)
    assert err.idx == "p2" and err.field == "age" and "TypeError" in str(err) and "MapField" in str(err)
    assert isinstance(err.__cause__, TypeError)
    g2 = people() | Filter(lambda d: d["age"] > 1) | WriteJsonl(out)
    err2 = run_and_check(g2, out, bf.UserFunctionError)
    assert err2.idx == "p2" and "Filter" in str(err2) and isinstance(err2.__cause__, TypeError)


def test_user_function_returning_the_wrong_shape(out):
    g = people() | MapField(lambda name: name, "name", ["first", "last"]) | WriteJsonl(out)
    err = run_and_check(g, out, bf.UserFunctionError)
    assert err.idx == "p1" and err.field == ["first", "last"] and "2 values" in str(err)


def test_duplicate_idx(tmp_path, out):
    err = run_and_check(FromList(["a", "b", "a"], "t") | WriteJsonl(out), out, bf.DuplicateIdxError)
    assert "list position 0 and list position 2" in str(err) and "FromList" in str(err) and err.idx
    md = tmp_path / "greek.md"
    md.write_text("# Gods\nZeus\nHera\nZeus\n")
    err = run_and_check(ReadMarkdownLines(md) | WriteJsonl(out), out, bf.DuplicateIdxError)
    assert "greek.md:2 and" in str(err) and "greek.md:4 are the same line under the same headings" in str(err)


def test_missing_idx_key_names_file_line_and_field(tmp_path, out):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a"}\n{"other": 1}\n')
    err = run_and_check(ReadJsonl(src, idx_key="id") | WriteJsonl(out), out, bf.SourceError)
    assert "in.jsonl:2" in str(err) and err.field == "id"
    src.write_text('{"id": "a"}\n{"id": ""}\n')
    run_and_check(ReadJsonl(src, idx_key="id") | WriteJsonl(out), out, bf.SourceError)


def test_a_writer_failing_midway_leaves_its_old_file(out):
    # the second line cannot be written as markdown: nothing is written at all
    bad = FromList(
        [{"idx": "a", "keyword": "ok", "headings": []}, {"idx": "b", "keyword": "two\nlines", "headings": []}]
    )
    md = out.parent / "result.md"
    md.write_text("old\n")
    with pytest.raises(bf.OpError) as e:
        (bad | WriteMarkdownLines(md)).run()
    assert e.value.idx == "b" and md.read_text() == "old\n"


class Thing:
    def __init__(self):
        self.a = 1


def test_unhashable_list_value_names_position_and_field():
    with pytest.raises(bf.SourceError) as e:
        FromList([{"v": 1}, {"v": object()}]).to_graph().run()
    assert "list position 1" in str(e.value) and e.value.field == "v" and "FromList" in str(e.value)


def test_unencodable_value_does_not_touch_the_old_file(out):
    g = FromList([{"idx": "a", "v": Thing()}]) | WriteJsonl(out)
    with pytest.raises(bf.OpError) as e:
        g.run()
    assert "'v'" in str(e.value) and "WriteJsonl" in str(e.value)
    assert out.read_bytes() == OLD
