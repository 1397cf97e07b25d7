"""What fuzzing log ingestion found, pinned as plain tests (SYNTHETIC logs; see ``_fuzz_logs``)."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from helion_learned.training.logs import LogFormatError
from helion_learned.training.logs import LogSet
from helion_learned.training.logs import load_logs
from tests.training._fuzz_logs import _report_examples  # noqa: F401  # autouse fixture
from tests.training._fuzz_logs import csv_bytes
from tests.training._fuzz_logs import facts_record
from tests.training._fuzz_logs import gunzip_prefix
from tests.training._fuzz_logs import identity
from tests.training._fuzz_logs import jsonl
from tests.training._fuzz_logs import meta_record
from tests.training._fuzz_logs import workdir
from tests.training._fuzz_logs import write_files

# -- what fuzzing found, pinned as plain tests ---------------------------------------------------

RUN_A = "a" * 64
OK_ROW = [RUN_A, "0.5", "{cid}", "0", "ok", "1.5", "", "Config(num_warps={w})"]


def _rows(n: int) -> list[list[str]]:
    return [[f.format(cid=f"c{i}", w=2 ** (i % 4)) for f in OK_ROW] for i in range(n)]


def _load(files: dict[str, bytes], **kwargs: Any) -> LogSet | LogFormatError:
    root = workdir("found")
    write_files(root, files)
    try:
        return load_logs([root], require_facts=False, **kwargs)
    except LogFormatError as err:
        return err


META_A = jsonl([meta_record(RUN_A, identity(0, lambda s: False), {})])


@pytest.mark.parametrize(
    "line",
    [
        "[" * 5_000,  # RecursionError from json
        "7" * 5_000,  # ValueError: int over sys.get_int_max_str_digits()
        '{"run_id": ' + "7" * 5_000 + "}",
    ],
    ids=["deep", "bigint", "bigint_in_object"],
)
def test_json_limits_are_bad_json(line: str) -> None:
    files = {"x.csv": csv_bytes(_rows(1)), "x.meta.jsonl": META_A + line.encode() + b"\n"}
    err = _load(files)
    assert isinstance(err, LogFormatError) and (err.code, err.line) == ("bad_json", 2)
    logset = _load(files, skip_bad=True)
    assert logset.skipped == {"bad_json": 1} and len(logset.workloads) == 1


def test_infinite_compute_capability_is_bad_record() -> None:
    record = facts_record(RUN_A, identity(0, lambda s: False), True)
    record["hardware_facts"]["compute_capability"] = [float("inf"), 0]  # JSON `Infinity`
    files = {"x.csv": csv_bytes(_rows(1)), "x.facts.jsonl": jsonl([record])}
    err = _load(files)
    assert isinstance(err, LogFormatError) and (err.code, err.line) == ("bad_record", 1)


def test_invalid_utf8_is_one_bad_row_at_its_line() -> None:
    data = csv_bytes(_rows(4)).split(b"\n")
    data[2] = data[2].replace(b"num_warps", b"num_\xffwarps")  # line 3: the second row
    files = {"x.csv": b"\n".join(data), "x.meta.jsonl": META_A}
    err = _load(files)
    assert isinstance(err, LogFormatError) and (err.code, err.line) == ("bad_encoding", 3)
    logset = _load(files, skip_bad=True)
    assert logset.skipped == {"bad_encoding": 1}  # not the rest of the file
    assert [m.config_id for m in logset.workloads[0].measurements] == ["c0", "c2", "c3"]


def test_concatenated_files_with_boms() -> None:
    bom = b"\xef\xbb\xbf"
    csv_part, meta_part = csv_bytes(_rows(2)), META_A
    files = {"x.csv": bom + csv_part + bom + csv_part, "x.meta.jsonl": bom + meta_part * 2}
    logset = _load(files)
    assert isinstance(logset, LogSet) and not logset.skipped
    assert [m.n_measurements for m in logset.workloads[0].measurements] == [2, 2]


def test_skipped_meta_record_has_no_effect() -> None:
    bad = meta_record(RUN_A, identity(0, lambda s: False), {"c0": {"num_warps": 8}, "x": 5})
    files = {"x.csv": csv_bytes(_rows(1)), "x.meta.jsonl": jsonl([bad]) + META_A}
    logset = _load(files, skip_bad=True)
    assert logset.skipped == {"bad_record": 1}
    (m,) = logset.workloads[0].measurements
    assert m.config == {"num_warps": 1}  # from the CSV, not from the rejected record


def test_complete_last_row_with_quoted_newline_is_not_truncated() -> None:
    rows = _rows(2)
    rows[-1][6] = "a\nb"  # compile_time_s: quoted, holds a newline, properly closed
    logset = _load({"x.csv": csv_bytes(rows), "x.meta.jsonl": META_A})
    assert isinstance(logset, LogSet) and len(logset.workloads[0].measurements) == 2


def test_truncated_gzip_keeps_every_complete_row() -> None:
    text = csv_bytes(_rows(400))
    gz = gzip.compress(text, mtime=0)
    cut = gz[: len(gz) // 2]
    complete = gunzip_prefix(cut).count(b"\n") - 1  # rows whose newline arrived (no header)
    logset = _load({"x.csv.gz": cut, "x.meta.jsonl": META_A}, skip_bad=True)
    assert logset.skipped == {"truncated_file": 1}
    assert len(logset.workloads[0].measurements) == complete
