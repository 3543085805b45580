"""Sources: FromList, ReadJsonl, ReadParquet, ReadTxtFolder, ReadMarkdownLines/Entries, through real graphs."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bfnb as bf
from bfnb.op import (
    FromList,
    MapField,
    ReadJsonl,
    ReadMarkdownEntries,
    ReadMarkdownLines,
    ReadParquet,
    ReadTxtFolder,
    ToList,
)

# --- FromList ---------------------------------------------------------------------------------------


def test_fromlist_dicts_keep_fields_types_and_none():
    df = FromList([{"text": "a", "n": 1}, {"text": None, "n": 2}]).to_graph().run()
    assert df["text"].tolist() == ["a", None]
    assert df["n"].dtype == np.int64 and df["n"].tolist() == [1, 2]
    assert df["rev"].tolist() == [0, 0]
    assert df.index.name == "idx" and all(len(i) == 16 for i in df.index)


def test_fromlist_idx_is_deterministic_and_independent_of_the_rest_of_the_list():
    a = FromList([{"t": "x"}, {"t": "y"}]).to_graph().run()
    b = FromList([{"t": "new"}, {"t": "y"}, {"t": "x"}]).to_graph().run()
    assert a.index[0] == b.index[2] and a.index[1] == b.index[1]
    # field order inside a record does not matter; a field other records have does not either
    c = FromList([{"t": "x", "u": 1}, {"u": 1, "t": "x2"}]).to_graph().run()
    d = FromList([{"u": 1, "t": "x"}]).to_graph().run()
    assert c.index[0] == d.index[0]


def test_fromlist_type_tags_keep_one_and_string_one_apart():
    vals = [1, "1", 1.0, True, None, [1], (1,) * 0 or [], {"a": 1}, {"a": "1"}, float("nan"), b"1"]
    df = FromList(vals, "v").to_graph().run()
    assert df.index.is_unique and len(df) == len(vals)
    assert FromList(vals, "v").to_graph().run().index.tolist() == df.index.tolist()


def test_fromlist_scalars_with_output_key_match_the_dict_form():
    a = FromList(["x", "y"], "text").to_graph().run()
    b = FromList([{"text": "x"}, {"text": "y"}]).to_graph().run()
    assert a.index.tolist() == b.index.tolist()
    assert (FromList(["x", "y"], "text") | ToList("text")).execute() == ["x", "y"]


def test_fromlist_uses_idx_and_rev_keys_and_entry_forms():
    class Entry:  # the seed's Entry shape
        def __init__(self, idx, data, rev=0):
            self.idx, self.data, self.rev = idx, data, rev

    items = [{"idx": "a", "rev": 2, "t": 1}, {"idx": "b", "data": {"t": 2}}, Entry("c", {"t": 3}, 1)]
    df = FromList(items).to_graph().run()
    assert df.index.tolist() == ["a", "b", "c"]
    assert df["rev"].tolist() == [2, 0, 1] and df["t"].tolist() == [1, 2, 3]
    assert "data" not in df.columns and "idx" not in df.columns


def test_fromlist_identical_records_name_both_positions():
    g = FromList([{"t": "x"}, {"t": "y"}, {"t": "x"}]).to_graph()
    with pytest.raises(bf.DuplicateIdxError, match="list position 0 and list position 2"):
        g.run()


def test_fromlist_plain_values_need_an_output_key():
    with pytest.raises(bf.SourceError, match="output_key"):
        FromList(["a"]).to_graph().run()


def test_fromlist_empty_list_gives_an_empty_batch():
    df = FromList([], "text").to_graph().run()
    assert len(df) == 0 and "text" in df.columns


def test_fromlist_takes_its_list_as_a_value():
    data = ["a", "b"]
    records = [{"t": "x", "tags": ["p"]}]
    g = FromList(data, "t") | MapField(lambda t: t.upper(), "t")
    h = FromList(records).to_graph()
    assert g.run()["t"].tolist() == ["A", "B"]
    data[1] = "c"  # changing the list (or a value inside it) after construction changes nothing
    data.append("d")
    records[0]["tags"].append("q")
    records.append({"t": "y"})
    assert g.run()["t"].tolist() == ["A", "B"]
    assert h.run()["tags"].tolist() == [["p"]]
    assert (FromList(data, "t") | MapField(lambda t: t.upper(), "t")).run()["t"].tolist() == ["A", "C", "D"]


def test_fromlist_fingerprint_follows_content_not_identity():
    a, b = FromList([{"t": "x"}, {"t": "y"}]), FromList([{"t": "x"}, {"t": "y"}])
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != FromList([{"t": "x"}, {"t": "z"}]).fingerprint()
    assert a.fingerprint() != FromList([{"t": "x", "idx": "1"}, {"t": "y"}]).fingerprint()


def test_fromlist_set_input_replaces_the_list():
    op = FromList(["a"], "t")
    g = op | ToList("t")
    assert g.execute() == ["a"]
    op.set_input(["b", "c"])
    assert g.execute() == ["b", "c"]


def test_fromlist_repr_is_short_for_long_lists():
    assert "[1000 items]" in repr(FromList(list(map(str, range(1000))), "t"))
    assert "DataFrame[3 rows × 2 columns]" in repr(FromList(pd.DataFrame({"a": [1, 2, 3], "b": list("xyz")})))


def test_fromlist_dataframe_index_becomes_idx_as_text():
    df = pd.DataFrame({"review": ["good", "bad", None], "stars": [5, 1, 3]}, index=[10, 11, 12])
    op = FromList(df)
    out = op.to_graph().run()
    assert out.index.tolist() == ["10", "11", "12"] and out.index.name == "idx"
    assert out["review"].tolist() == ["good", "bad", None]  # pandas' missing text comes back as None
    assert out["stars"].dtype == np.int64 and out["rev"].tolist() == [0, 0, 0]
    df.loc[10, "review"] = "changed"  # taken as a value: the op keeps what it was given
    assert op.to_graph().run()["review"].iloc[0] == "good"
    assert FromList(df).fingerprint() != op.fingerprint()


def test_fromlist_dataframe_idx_key_and_round_trip_of_a_batch():
    df = pd.DataFrame({"id": ["a", "b"], "x": [[1], [2]]})
    out = FromList(df, idx_key="id").to_graph().run()
    assert out.index.tolist() == ["a", "b"] and out["id"].tolist() == ["a", "b"]
    df["x"].iloc[0].append(99)  # a list inside the frame was copied
    assert out["x"].tolist() == [[1], [2]]
    batch = FromList([{"t": "x", "idx": "k", "rev": 3}]).to_graph().run()
    again = FromList(batch).to_graph().run()  # a batch (idx index, rev column) comes back as it was
    assert again.index.tolist() == ["k"] and again["rev"].tolist() == [3] and again["t"].tolist() == ["x"]


def test_fromlist_dataframe_with_a_repeated_index_needs_idx_key():
    df = pd.DataFrame({"t": ["x", "y"]}, index=[0, 0])
    with pytest.raises(bf.SourceError, match=r"index is not unique.*idx_key="):
        FromList(df).to_graph().run()
    with pytest.raises(bf.DuplicateIdxError, match="idx_key must name a column of unique values"):
        FromList(pd.DataFrame({"k": [1, 1]}), idx_key="k").to_graph().run()
    with pytest.raises(bf.SourceError, match="'nope' is not a column"):
        FromList(df, idx_key="nope").to_graph().run()


def test_fromlist_idx_key_picks_a_dict_field():
    out = FromList([{"id": 7, "q": "x"}, {"id": 8, "q": "y"}], idx_key="id").to_graph().run()
    assert out.index.tolist() == ["7", "8"]


# --- JSONL ------------------------------------------------------------------------------------------


def write_lines(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_readjsonl_idx_key_hash_keys_and_whole_record(tmp_path):
    p = write_lines(tmp_path / "a.jsonl", [{"id": 7, "q": "x", "a": 1}, {"id": 8, "q": "y", "a": 1}])
    by_key = ReadJsonl(p, idx_key="id").to_graph().run()
    assert by_key.index.tolist() == ["7", "8"] and by_key["q"].tolist() == ["x", "y"]
    by_hash = ReadJsonl(p, hash_keys=["a"]).to_graph()
    with pytest.raises(bf.DuplicateIdxError, match=r"a\.jsonl:1 and .*a\.jsonl:2"):
        by_hash.run()
    whole = ReadJsonl(p).to_graph().run()
    assert whole.index.is_unique and whole.index.tolist() != ["7", "8"]
    assert (
        whole.index.tolist()
        == FromList([{"id": 7, "q": "x", "a": 1}, {"id": 8, "q": "y", "a": 1}]).to_graph().run().index.tolist()
    )


def test_readjsonl_keys_project_and_glob_reads_json_too(tmp_path):
    write_lines(tmp_path / "a.jsonl", [{"k": "a", "x": 1, "y": 2}])
    (tmp_path / "b.json").write_text(json.dumps([{"k": "b", "x": 3}, {"k": "c", "x": 4, "y": 5}]))
    df = ReadJsonl(str(tmp_path / "*.json*"), ["x", "y"], idx_key="k").to_graph().run()
    assert df.index.tolist() == ["a", "b", "c"]
    assert list(df.columns) == ["rev", "x", "y"] and df["y"].tolist() == [2, None, 5]


def test_readjsonl_keeps_idx_and_rev_written_by_bfnb(tmp_path):
    p = write_lines(tmp_path / "a.jsonl", [{"idx": "e1", "rev": 3, "t": "x"}])
    df = ReadJsonl(p).to_graph().run()
    assert df.index.tolist() == ["e1"] and df["rev"].tolist() == [3] and list(df.columns) == ["rev", "t"]


def test_readjsonl_decodes_tagged_values(tmp_path):
    p = write_lines(tmp_path / "a.jsonl", [{"idx": "a", "b": {"$bytes": "aGk="}, "d": {"$esc": {"$x": 1}}}])
    df = ReadJsonl(p).to_graph().run()
    assert df["b"].iloc[0] == b"hi" and df["d"].iloc[0] == {"$x": 1}


def test_reader_options_shuffle_offset_max_count(tmp_path):
    p = write_lines(tmp_path / "a.jsonl", [{"i": i} for i in range(20)])
    plain = ReadJsonl(p, idx_key="i", offset=5, max_count=3).to_graph().run()
    assert plain["i"].tolist() == [5, 6, 7]
    s1 = ReadJsonl(p, idx_key="i", shuffle=True, seed=1).to_graph().run()["i"].tolist()
    s2 = ReadJsonl(p, idx_key="i", shuffle=True, seed=1).to_graph().run()["i"].tolist()
    s3 = ReadJsonl(p, idx_key="i", shuffle=True, seed=2).to_graph().run()["i"].tolist()
    assert s1 == s2 != s3 and sorted(s1) == list(range(20))


def test_file_sources_see_file_changes_between_runs(tmp_path):
    p = write_lines(tmp_path / "a.jsonl", [{"k": "a"}])
    g = ReadJsonl(p, idx_key="k") | ToList("k")
    assert g.execute() == ["a"]
    write_lines(p, [{"k": "a"}, {"k": "bb"}])  # another size: a new fingerprint
    assert g.execute() == ["a", "bb"]


# --- Parquet ----------------------------------------------------------------------------------------


def test_readparquet_external_table_with_idx_key_hash_and_keys(tmp_path):
    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": ["x", "y"], "n": [1, None], "s": ["a", None]}), p)
    df = ReadParquet(p, idx_key="id").to_graph().run()
    assert df.index.tolist() == ["x", "y"] and df["n"].tolist() == [1, None] and df["s"].tolist() == ["a", None]
    hashed = ReadParquet(p, ["s"]).to_graph().run()
    assert list(hashed.columns) == ["rev", "s"] and hashed.index.is_unique
    assert hashed.index.tolist() != ["x", "y"]


def test_readparquet_files_with_different_columns_fill_none(tmp_path):
    pq.write_table(pa.table({"id": ["x"], "a": ["1"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": ["y"], "b": [2]}), tmp_path / "b.parquet")
    out = (ReadParquet(str(tmp_path / "*.parquet"), idx_key="id") | ToList()).execute()
    assert out == [{"id": "x", "a": "1", "b": None}, {"id": "y", "a": None, "b": 2}]


def test_readparquet_reads_many_files_and_reports_duplicates_by_file_and_row(tmp_path):
    pq.write_table(pa.table({"id": ["x", "y"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": ["z", "x"]}), tmp_path / "b.parquet")
    with pytest.raises(bf.DuplicateIdxError, match=r"a\.parquet row 1 and .*b\.parquet row 2"):
        ReadParquet(str(tmp_path / "*.parquet"), idx_key="id").to_graph().run()


# --- text and markdown ------------------------------------------------------------------------------


def test_readtxtfolder_custom_text_key_folder_and_filenames(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "sub" / "b.txt").write_text("beta")
    out = (ReadTxtFolder(tmp_path, "body") | ToList()).execute()
    assert out == [{"body": "alpha", "filename": "a"}, {"body": "beta", "filename": "sub/b"}]
    glob_out = (ReadTxtFolder(str(tmp_path / "*.txt"), remove_extension_in_filename=False) | ToList()).execute()
    assert glob_out == [{"text": "alpha", "filename": "a.txt"}]


def test_readtxtfolder_idx_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("alpha")
    absolute = ReadTxtFolder(str(tmp_path / "*.txt")).to_graph().run().index.tolist()
    monkeypatch.chdir(tmp_path)
    relative = ReadTxtFolder("*.txt").to_graph().run().index.tolist()
    assert absolute == relative


MD = """intro line
# Gods
Zeus
Hera
## Minor
Iris
# Heroes
Heracles
"""


def test_readmarkdownlines_fields(tmp_path):
    p = tmp_path / "greek.md"
    p.write_text(MD)
    out = (ReadMarkdownLines(p) | ToList()).execute()
    assert out[0] == {"keyword": "intro line", "headings": [], "filename": "greek"}
    assert out[3] == {"keyword": "Iris", "headings": ["Gods", "Minor"], "filename": "greek"}
    assert [o["keyword"] for o in out] == ["intro line", "Zeus", "Hera", "Iris", "Heracles"]
    custom = ReadMarkdownLines(
        p, keyword_key="k", headings_key="h", filename_key="f", remove_extension_in_filename=False
    )
    assert (custom | ToList()).execute()[1] == {"k": "Zeus", "h": ["Gods"], "f": "greek.md"}


def test_readmarkdownlines_idx_survives_inserting_lines_elsewhere(tmp_path):
    p = tmp_path / "greek.md"
    p.write_text(MD)
    before = dict(
        zip(*[(d := ReadMarkdownLines(p).to_graph().run())["keyword"].tolist(), d.index.tolist()], strict=True)
    )
    p.write_text(MD.replace("Zeus\n", "New line\nZeus\n"))
    after_df = ReadMarkdownLines(p).to_graph().run()
    after = dict(zip(after_df["keyword"].tolist(), after_df.index.tolist(), strict=True))
    assert all(after[k] == v for k, v in before.items()) and len(after) == len(before) + 1


def test_readmarkdownlines_duplicate_line_names_both_line_numbers(tmp_path):
    p = tmp_path / "greek.md"
    p.write_text("# Gods\nZeus\nHera\nZeus\n# Other\nZeus\n")
    with pytest.raises(
        bf.DuplicateIdxError, match=r"greek\.md:2 and .*greek\.md:4 are the same line under the same headings"
    ):
        ReadMarkdownLines(p).to_graph().run()


def test_readmarkdownentries_sections_and_duplicate_headings(tmp_path):
    p = tmp_path / "book.md"
    p.write_text("# One\nfirst\n\nsecond\n# Two\n\n# Three\nthird\n")
    out = (ReadMarkdownEntries(p, output_key="body") | ToList()).execute()
    assert out == [
        {"body": "first\n\nsecond", "headings": ["One"], "filename": "book"},
        {"body": "third", "headings": ["Three"], "filename": "book"},
    ]
    p.write_text("# One\na\n# Two\nb\n# One\nc\n")
    with pytest.raises(bf.DuplicateIdxError, match=r"book\.md:1 and .*book\.md:5"):
        ReadMarkdownEntries(p).to_graph().run()
    ok = ReadMarkdownEntries(p, include_text_in_idx_hash=True).to_graph().run()
    assert len(ok) == 3


def test_markdown_glob_over_folders_keeps_same_named_files_apart(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "notes.md").write_text("# H\nsame line\n")
    df = ReadMarkdownLines(str(tmp_path / "*" / "notes.md")).to_graph().run()
    assert len(df) == 2 and df.index.is_unique


def test_missing_file_and_empty_glob_name_the_op_and_path(tmp_path):
    with pytest.raises(bf.SourceError, match=r"nope\.md.*does not exist.*op ReadMarkdownLines"):
        ReadMarkdownLines(tmp_path / "nope.md").to_graph().run()
    with pytest.raises(bf.SourceError, match=r"no file matches .*\*\.jsonl.*op ReadJsonl"):
        ReadJsonl(str(tmp_path / "*.jsonl")).to_graph().run()


def test_sources_are_memoised_until_their_files_change(tmp_path):
    p = tmp_path / "a.md"
    p.write_text("# H\nx\n")
    g = ReadMarkdownLines(p) | ToList("keyword")
    assert g.execute() == ["x"]
    st = os.stat(p)
    p.write_text("# H\ny\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert g.execute() == ["y"]


def test_fromlist_read_of_100k_strings_has_unique_hash_idx():
    data = [f"{i} some text" for i in range(100_000)]
    df = FromList(data, "text").to_graph().run()
    assert len(df) == 100_000 and df.index.is_unique and isinstance(df.index[0], str)
    assert df["text"].dtype == object and isinstance(df, pd.DataFrame)
