"""The ledger as one process sees it: durable appends, the done-wins rule, torn tails, lookups."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from bfnb.errors import LedgerError, LedgerWarning
from bfnb.ledger import CALLS_FILE, CallRecord, Ledger

from .factory import key, record


def lines_of(folder):
    return (folder / CALLS_FILE).read_bytes().splitlines(keepends=True)


def test_records_survive_reopening(tmp_path):
    written = [record(i) for i in range(50)] + [record(i, "failed") for i in range(50, 60)]
    with Ledger(tmp_path) as ledger:
        ledger.append(written[0])
        assert ledger.append_many(written[1:]) == 59
        assert ledger.get(key(0)) == written[0]
    with Ledger(tmp_path) as ledger:
        assert len(ledger) == 60
        assert [ledger.get(r.key) for r in written] == written
        assert ledger.status(key(3)) == "done"
        assert ledger.status(key(55)) == "failed"
        assert ledger.status(key(999)) is None
        assert ledger.get(key(999)) is None
        assert key(3) in ledger and key(999) not in ledger
    with pytest.raises(LedgerError, match="closed"):
        ledger.get(key(1))


def test_fsync_appends_are_readable_at_once(tmp_path):
    with Ledger(tmp_path, fsync=True) as ledger:
        ledger.append(record(1))
        ledger.append_many([record(2)], fsync=False)
        with Ledger(tmp_path) as other:
            assert other.get(key(1)) == record(1) and other.get(key(2)) == record(2)


def test_each_line_starts_with_key_and_status(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.append_many([record(1), record(2, "failed")])
    first, second = lines_of(tmp_path)
    assert first.startswith(b'{"key":"' + key(1).encode() + b'","status":"done","input_tokens":11,')
    assert second.startswith(b'{"key":"' + key(2).encode() + b'","status":"failed","input_tokens":12,')
    assert orjson.loads(second)["error"] == "HTTP 500 on call 2"


def test_done_is_never_replaced_by_a_later_failure(tmp_path):
    done = record(7, response={"content": "the good answer"})
    with Ledger(tmp_path) as ledger:
        ledger.append(record(7, "failed"))
        ledger.append(done)
        ledger.append(record(7, "failed", error="a later retry failed"))
        assert ledger.get(key(7)) == done
        assert ledger.get_many([key(7)])[0].response == {"content": "the good answer"}
        assert ledger.done_keys_mask([key(7)]) == [True]
    with Ledger(tmp_path) as ledger:  # the same answer from the index built on load
        assert ledger.get(key(7)) == done
        assert len(ledger) == 1
        assert ledger.failed_keys() == []


def test_later_lines_win_otherwise(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.append(record(1, "failed", error="first"))
        ledger.append(record(1, "failed", error="second"))
        ledger.append(record(2, response={"content": "old"}))
        ledger.append(record(2, response={"content": "new"}))
        assert ledger.get(key(1)).error == "second"
    with Ledger(tmp_path) as ledger:
        assert ledger.get(key(1)).error == "second"
        assert ledger.get(key(2)).response == {"content": "new"}
        assert ledger.failed_keys() == [key(1)]


@pytest.mark.parametrize("tail", [b'{"key":"' + b"a" * 20, b"", b'{"key":"' + b"b" * 32 + b'","status":"done"}'])
def test_a_torn_last_line_is_skipped_and_the_next_append_is_clean(tmp_path, tail):
    with Ledger(tmp_path) as ledger:
        ledger.append_many([record(i) for i in range(3)])
    whole = (tmp_path / CALLS_FILE).read_bytes()
    torn = tail or lines_of(tmp_path)[2][:-40]  # a writer killed mid-line
    (tmp_path / CALLS_FILE).write_bytes(whole + torn)
    with Ledger(tmp_path) as ledger:
        assert len(ledger) == 3
        assert ledger.get(key(2)) == record(2)
        with pytest.warns(LedgerWarning, match=r"1 damaged line in .*calls.jsonl cut off"):
            ledger.append(record(3))
    data = (tmp_path / CALLS_FILE).read_bytes()
    assert data.startswith(whole) and data.endswith(b"\n")
    assert [orjson.loads(line)["key"] for line in data.splitlines()] == [key(i) for i in range(4)]
    with Ledger(tmp_path) as ledger:
        assert [ledger.get(key(i)) for i in range(4)] == [record(i) for i in range(4)]


def test_a_damaged_line_in_the_middle_is_skipped(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.append(record(1))
    with open(tmp_path / CALLS_FILE, "ab") as f:
        f.write(b"\x00" * 100 + b"\n" + b"not a record\n")
    with pytest.warns(LedgerWarning, match=r"2 damaged lines in .*calls.jsonl skipped"), Ledger(tmp_path) as ledger:
        ledger.append(record(2))
        assert ledger.skipped_lines == 2
    with pytest.warns(LedgerWarning, match="2 damaged lines"), Ledger(tmp_path) as ledger:
        assert len(ledger) == 2 and ledger.get(key(2)) == record(2)


def test_get_many_returns_call_records_in_the_order_asked(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.append_many([record(i, "failed" if i % 10 == 0 else "done") for i in range(3000)])
    with Ledger(tmp_path) as ledger:
        ledger.append_many([record(i) for i in range(3000, 3100)])  # recent appends: the other tier
        asked = [key(2999), "not a key", key(5000), key(3050), key(0), key(2999), key(1234).upper(), key(17)]
        got = ledger.get_many(asked)
        assert [g and g.key for g in got] == [key(2999), None, None, key(3050), key(0), key(2999), None, key(17)]
        assert got[4].status == "failed" and got[4].error == "HTTP 500 on call 0"
        assert all(type(g) is CallRecord for g in got if g is not None)
        assert got[3] == record(3050) == ledger.get(key(3050))
        assert got[3].to_dict() == record(3050).to_dict()
        assert got[0] is not got[5]
        assert ledger.done_keys_mask(asked) == [True, False, False, True, False, True, False, True]
        assert ledger.get_many([]) == [] and ledger.done_keys_mask([]) == []


def test_api_keys_never_reach_the_file(tmp_path):
    secret = "sk-proj-THIS-MUST-NOT-BE-STORED"
    req = {"model": "m", "messages": [], "api_key": secret, "headers": {"Authorization": f"Bearer {secret}"}}
    with Ledger(tmp_path) as ledger:
        ledger.append(record(1, request=req))
        assert ledger.get(key(1)).request == {"model": "m", "messages": []}
    assert secret.encode() not in (tmp_path / CALLS_FILE).read_bytes()


def test_stats_count_distinct_calls(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.append_many([record(i) for i in range(4)])
        ledger.append(record(9, "failed"))
        ledger.append(record(3, "failed"))  # ignored: 3 is done
        ledger.append(record(5, cost_usd=None))  # price unknown
        s = ledger.stats()
    assert s["calls"] == 6 and s["done"] == 5 and s["failed"] == 1
    assert s["input_tokens"] == sum(10 + i % 7 for i in (0, 1, 2, 3, 5, 9))
    assert s["output_tokens"] == 5 * 20 and s["total_tokens"] == s["input_tokens"] + 100
    assert math.isclose(s["cost_usd"], 0.004) and s["cost_unknown"] == 1


def test_stats_read_lines_written_in_another_field_order(tmp_path):
    other = {"key": key(8), "status": "done", "kind": "chat", "provider": "p", "model": "m", "request": {}}
    other |= {"input_tokens": 5, "output_tokens": 6, "cost_usd": 0.5}  # after the request: not where encode puts them
    with Ledger(tmp_path) as ledger:
        ledger.append(record(1))
    with open(tmp_path / CALLS_FILE, "ab") as f:
        f.write(orjson.dumps(other) + b"\n")
    with Ledger(tmp_path) as ledger:
        s = ledger.stats()
        assert (s["calls"], s["input_tokens"], s["output_tokens"]) == (2, 11 + 5, 20 + 6)
        assert math.isclose(s["cost_usd"], 0.501)
        assert ledger.get(key(8)).input_tokens == 5


def test_to_pandas_has_one_row_per_call_with_flat_columns(tmp_path):
    with Ledger(tmp_path) as ledger:
        ledger.append(record(1, "failed"))
        ledger.append(record(2, cost_usd=None))
        ledger.append(record(1))
        df = ledger.to_pandas()
    assert list(df.columns) == [
        "key", "status", "kind", "provider", "model", "input_tokens", "output_tokens", "total_tokens",
        "cost_usd", "attempts", "error", "t_sent", "t_done", "batch", "origin_op", "origin_idx",
        "request", "response",
    ]  # fmt: skip
    assert df["key"].tolist() == [key(2), key(1)]  # file order of each key's winning line
    assert df["status"].tolist() == ["done", "done"]
    assert df["total_tokens"].tolist() == [12 + 20, 11 + 20]
    assert df["cost_usd"].isna().tolist() == [True, False]
    assert df["error"].tolist() == [None, None]  # None stays None: text columns are objects
    assert df["request"][1] == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "poem 1"}]}
    assert df["origin_idx"].tolist() == ["myths.md:2", "myths.md:1"]
    assert str(df["input_tokens"].dtype) == "int64" and df["key"].dtype == object


def test_an_empty_ledger(tmp_path):
    with Ledger(tmp_path / "new" / "ledger") as ledger:
        assert len(ledger) == 0 and ledger.get(key(1)) is None and ledger.get_many([key(1)]) == [None]
        assert ledger.stats()["calls"] == 0 and len(ledger.to_pandas()) == 0 and ledger.failed_keys() == []


def test_bad_input_is_refused_with_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(LedgerError, match="is a file"):
        Ledger(tmp_path / "file")
    with Ledger(tmp_path / "l") as ledger:
        with pytest.raises(LedgerError, match="status must be 'done' or 'failed'"):
            ledger.append(record(1, status="running"))
        with pytest.raises(LedgerError, match="32 lowercase hex digits"):
            ledger.append(record(1, key="idx-7"))
        with pytest.raises(LedgerError, match="cannot store"):
            ledger.append(record(1, response={"x": object()}))
        assert len(ledger) == 0
    assert (tmp_path / "l" / CALLS_FILE).read_bytes() == b""


def test_get_many_sees_another_processes_appends_when_asked(tmp_path):
    with Ledger(tmp_path) as mine, Ledger(tmp_path) as theirs:
        mine.append(record(1, status="failed"))
        assert mine.get_many([key(1)])[0].status == "failed"
        theirs.append(record(1))  # another process answered it since
        assert mine.get_many([key(1)], refresh=False)[0].status == "failed"
        assert mine.get_many([key(1)], refresh=True)[0].status == "done"
        theirs.append(record(2))
        assert mine.get_many([key(2)], refresh=False) == [None]
        assert mine.get_many([key(2)])[0].key == key(2)  # default: refresh on a miss


def test_to_pandas_has_exactly_the_documented_columns(tmp_path):
    documented = [
        *("key", "status", "kind", "provider", "model"),
        *("input_tokens", "output_tokens", "total_tokens", "cost_usd", "attempts", "error", "t_sent", "t_done"),
        *("batch", "origin_op", "origin_idx", "request", "response"),
    ]
    with Ledger(tmp_path) as ledger:
        empty = ledger.to_pandas()
        ledger.append_many([record(1), record(2, "failed"), record(3, cost_usd=None)])
        df = ledger.to_pandas()
    assert list(empty.columns) == list(df.columns) == documented and len(empty) == 0
    assert [str(t) for t in df.dtypes[["input_tokens", "total_tokens", "cost_usd", "t_done", "batch"]]] == [
        "int64",
        "int64",
        "float64",
        "float64",
        "bool",
    ]
    assert df["key"].tolist() == [key(1), key(2), key(3)]
    assert df["total_tokens"].tolist() == [11 + 20, 12, 13 + 20]
    assert df["cost_usd"].isna().tolist() == [False, True, True]
    assert df["origin_op"].tolist() == ["poems"] * 3 and df["origin_idx"][0] == "myths.md:1"
    assert df["error"][1] == "HTTP 500 on call 2" and df["response"][1] is None
    assert df["request"][0] == record(1).request
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert "`" + "`, `".join(documented) + "`" in readme, "README lists the columns of Ledger.to_pandas()"
