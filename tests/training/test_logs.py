"""Reading Helion autotune logs into workloads (helion_learned.training.logs).

One real log is produced here by a real Helion autotune on CPU (Triton interpreter); everything
under tests/fixtures/logs/ is SYNTHETIC (see its README) and exercises format handling only.
"""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton/helion import (conftest does too)

import csv
import dataclasses
import gzip
import hashlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import helion
import helion.language as hl
import pytest
import torch

from helion_learned.features import sidecar
from helion_learned.features.facts import facts_from_env
from helion_learned.training.logs import LogFormatError
from helion_learned.training.logs import discover_log_bases
from helion_learned.training.logs import load_logs
from helion_learned.training.logs import parse_config_repr
from helion_learned.training.logs import summarize
from helion_learned.training.logs import workload_key
from helion_learned.training.logs.parsing import CSV_FIELDS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
GOOD, BAD = FIXTURES / "good", FIXTURES / "bad"
RUN_A, RUN_B = "a" * 64, "b" * 64
SHARED_FACTS = BAD / "shared_facts.facts.jsonl"
FACTS_FIX_PARTS = ("helion-learned exec", "helion_learned.install()", "backfill-facts")


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- a real log, written by Helion itself ----------------------------------------------------------


def add_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + y[tile]
    return out


REAL_CONFIGS = [
    helion.Config(block_sizes=[16, 16]),
    helion.Config(block_sizes=[32, 32], num_warps=2),
    helion.Config(block_sizes=[16, 32], indexing="block_ptr"),
    # persistent pid types need get_num_sm(), which fails on CPU: a real `error` row.
    helion.Config(block_sizes=[64, 64], pid_type="persistent_blocked"),
]


@pytest.fixture(scope="session")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from helion._compiler.backend import Backend
    from helion.autotuner import benchmarking
    from helion.autotuner.finite_search import FiniteSearch

    base = tmp_path_factory.mktemp("real") / "add"
    kernel = helion.kernel(
        add_kernel,
        static_shapes=True,
        autotune_log=str(base),
        autotune_log_details=True,
        autotune_benchmark_subprocess=False,
        autotune_precompile=None,
        autotune_ignore_errors=True,
        autotune_config_overrides={"pid_type": "flat"},
        autotune_progress_bar=False,
    )
    args = (torch.randn(32, 64), torch.randn(32, 64))
    bound = kernel.bind(args)
    # The facts sidecar, exactly as the installed library writes it at bind time.
    with bound.env:
        facts = facts_from_env(bound.env, bound.host_function.device_ir)
    shapes, dtypes = sidecar.shapes_and_dtypes(args)
    run_id = sidecar.helion_run_id(
        kernel_source=kernel.kernel_source(),
        settings=bound.settings.to_dict(),
        input_shapes=shapes,
        dtypes=dtypes,
        hardware="",  # Helion logs "" as the device name on CPU
    )
    record = sidecar.make_record(
        run_id=run_id,
        kernel_name=add_kernel.__name__,
        input_shapes=shapes,
        dtypes=dtypes,
        hardware="",
        facts=facts,
        hardware_facts=None,
    )
    sidecar.append_record(sidecar.sidecar_path(base), record)
    # Calling the search directly skips LocalAutotuneCache (it asserts on CPU); the CPU needs
    # the generic wall-clock benchmark instead of Triton's CUDA driver.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Backend, "get_do_bench", lambda self: benchmarking.do_bench_generic)
        mp.setattr(
            Backend, "get_interleaved_bench", lambda self: benchmarking.interleaved_bench_generic
        )
        FiniteSearch(bound, args, configs=REAL_CONFIGS).autotune()
    return SimpleNamespace(base=base, run_id=run_id, facts=facts, shapes=shapes, dtypes=dtypes)


def test_real_log_files_and_run_id_join(real_log: SimpleNamespace) -> None:
    base = real_log.base
    names = sorted(p.name for p in base.parent.iterdir())
    assert {"add.csv", "add.meta.jsonl", "add.facts.jsonl"} <= set(names), names
    with open(f"{base}.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_FIELDS
    assert {r[0] for r in rows[1:]} == {real_log.run_id}  # our run_id == Helion's CSV run_id
    (meta,) = [json.loads(x) for x in Path(f"{base}.meta.jsonl").read_text().splitlines()]
    assert meta["run_id"] == real_log.run_id
    assert meta["kernel_name"] == "add_kernel" and meta["hardware"] == ""
    # The CSV's config column parses back to the exact configs Helion recorded.
    for row in rows[1:]:
        assert parse_config_repr(row[-1]) == meta["configs"][row[2]]


def test_real_log_loads(real_log: SimpleNamespace) -> None:
    before = _hashes(real_log.base.parent)
    logset = load_logs([f"{real_log.base}.csv"])
    assert _hashes(real_log.base.parent) == before
    (w,) = logset.workloads
    assert w.run_id == real_log.run_id
    assert (w.kernel_name, w.input_shapes, w.dtypes, w.hardware) == (
        "add_kernel",
        "[(32, 64), (32, 64)]",
        "['torch.float32', 'torch.float32']",
        "",
    )
    assert w.facts == real_log.facts and w.hardware_facts is None
    assert w.settings is not None and w.settings["static_shapes"] is True
    by_config = {json.dumps(m.config, sort_keys=True): m for m in w.measurements}
    assert set(by_config) == {json.dumps(c.config, sort_keys=True) for c in REAL_CONFIGS}
    for config in REAL_CONFIGS:
        m = by_config[json.dumps(config.config, sort_keys=True)]
        assert m.n_measurements == 1 and m.first_seen.startswith(f"{real_log.base}.csv:")
        if config.config.get("pid_type") == "persistent_blocked":
            assert m.status == "error" and m.perf_ms is None
        else:
            assert m.status == "ok" and m.perf_ms is not None and m.perf_ms > 0
    assert w.n_ok == 3 and w.best_perf_ms == min(m.perf_ms for m in w.measurements if m.perf_ms)
    assert [m.config_id for m in w.measurements] == sorted(m.config_id for m in w.measurements)
    assert summarize(logset)["per_kernel"] == {
        "add_kernel": {"workloads": 1, "measurements": 4, "ok": 3, "failed": 1}
    }


def test_real_log_without_meta_uses_sidecar_and_csv_repr(
    real_log: SimpleNamespace, tmp_path: Path
) -> None:
    for suffix in (".csv", ".facts.jsonl"):
        shutil.copy(f"{real_log.base}{suffix}", tmp_path / f"add{suffix}")
    with_meta = load_logs([real_log.base.parent]).workloads[0]
    (w,) = load_logs([tmp_path]).workloads
    assert w.kernel_name == "add_kernel" and w.settings is None
    assert [(m.config_id, m.config, m.status, m.perf_ms) for m in w.measurements] == [
        (m.config_id, m.config, m.status, m.perf_ms) for m in with_meta.measurements
    ]


# -- well-formed synthetic logs: merging, medians, gzip, discovery ---------------------------------


def test_merge_across_files_and_median_of_repeats() -> None:
    logset = load_logs([GOOD])
    assert logset.skipped == {}
    assert [w.run_id for w in logset.workloads] == [RUN_A, RUN_B]
    a, b = logset.workloads
    m = {x.config_id[-2:]: x for x in a.measurements}
    assert sorted(m) == ["a1", "a2", "a3", "a5"]  # a4 only ever `started`: dropped
    # a1: 1, 3, 2 in run1 and 10 in run2 (same run_id, other file) -> median 2.5 of 4.
    assert (m["a1"].status, m["a1"].perf_ms, m["a1"].n_measurements) == ("ok", 2.5, 4)
    assert m["a1"].first_seen == f"{GOOD / 'run1.csv'}:3"
    assert m["a1"].config == {"block_sizes": [16, 16, 16], "num_warps": 4}
    assert (m["a2"].status, m["a2"].perf_ms, m["a2"].n_measurements) == ("error", None, 3)
    assert (m["a3"].status, m["a3"].perf_ms, m["a3"].n_measurements) == ("ok", 0.5, 2)
    assert m["a5"].config == {"block_sizes": [32, 64, 32], "num_warps": 4}  # from run2.meta
    assert a.best_perf_ms == 0.25 and a.n_ok == 3
    assert a.sources == sorted(
        str(GOOD / n)
        for n in (
            "run1.csv",
            "run1.meta.jsonl",
            "run1.facts.jsonl",
            "sub/run2.csv",
            "sub/run2.meta.jsonl",
        )
    )
    assert a.hardware_facts is not None and a.hardware_facts.sm_count == 132
    assert a.facts is not None and a.facts.kind == "matmul"
    mb = {x.config_id[-2:]: x for x in b.measurements}
    assert mb["b2"].status == "deduplicated"
    # b3 is not in meta: parsed from the CSV repr; its user tunable is known from meta configs.
    assert mb["b3"].config == {"block_sizes": [64], "my_tunable": 2}
    assert logset.by_run_id()[RUN_B] is b and b.key == workload_key(
        "synth_add", "[(1024,), (1024,)]", "['torch.float32', 'torch.float32']", b.hardware
    )
    assert summarize(logset) == {
        "files": 5,
        "workloads": 2,
        "measurements": 7,
        "ok": 5,
        "failed": 2,
        "skipped": {},
        "per_kernel": {
            "synth_add": {"workloads": 1, "measurements": 3, "ok": 2, "failed": 1},
            "synth_matmul": {"workloads": 1, "measurements": 4, "ok": 3, "failed": 1},
        },
    }


def _comparable(logset):
    return [
        (
            w.run_id,
            w.kernel_name,
            w.facts,
            [dataclasses.replace(m, first_seen="") for m in w.measurements],
        )
        for w in logset.workloads
    ]


def test_gzip_logs_read_transparently(tmp_path: Path) -> None:
    root = tmp_path / "gz"
    shutil.copytree(GOOD, root)
    for path in [p for p in root.rglob("*") if p.is_file()]:
        with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()
    logset = load_logs([root])
    assert all(p.name.endswith(".gz") for p in logset.files) and len(logset.files) == 5
    assert _comparable(logset) == _comparable(load_logs([GOOD]))
    # A single .gz file names its base: all three kinds are read.
    assert len(load_logs([root / "run1.meta.jsonl.gz"]).workloads) == 2


def test_discovery(tmp_path: Path) -> None:
    assert discover_log_bases([GOOD]) == [GOOD / "run1", GOOD / "sub" / "run2"]
    for name in ("run1.csv", "run1.meta.jsonl", "run1.facts.jsonl", "run1"):
        assert discover_log_bases([GOOD / name]) == [GOOD / "run1"]
    assert discover_log_bases([GOOD / "run1.csv", GOOD]) == discover_log_bases([GOOD])
    # Helion's other outputs are not logs of ours.
    (tmp_path / "x.sources.csv").write_text("run_id\n")
    (tmp_path / "x.log").write_text("")
    (tmp_path / "x.trace.jsonl").write_text("")
    assert discover_log_bases([tmp_path]) == []
    with pytest.raises(LogFormatError, match="not an autotune log file"):
        discover_log_bases([tmp_path / "x.log"])
    with pytest.raises(FileNotFoundError):
        discover_log_bases([tmp_path / "nope.csv"])
    with pytest.raises(LogFormatError, match="no autotune logs found"):
        load_logs([tmp_path])


def test_join_is_global_by_run_id(tmp_path: Path) -> None:
    # Helion names its files with Path.with_suffix: HELION_AUTOTUNE_LOG=h100.v2 writes h100.csv,
    # while a sidecar named after the raw base is h100.v2.facts.jsonl. The run_id still joins them.
    shutil.copy(GOOD / "run1.csv", tmp_path / "h100.csv")
    shutil.copy(GOOD / "run1.meta.jsonl", tmp_path / "h100.meta.jsonl")
    shutil.copy(GOOD / "run1.facts.jsonl", tmp_path / "h100.v2.facts.jsonl")
    logset = load_logs([tmp_path])
    assert [w.facts is not None for w in logset.workloads] == [True, True]
    with pytest.raises(LogFormatError, match=r"expected it in .*h100\.facts\.jsonl"):
        load_logs([tmp_path / "h100.csv"])


def test_progress_callback() -> None:
    calls: list[tuple[int, int]] = []
    load_logs([GOOD], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 5) for i in range(1, 6)]


def test_plain_and_gz_of_same_file(tmp_path: Path) -> None:
    for p in GOOD.glob("run1.*"):
        shutil.copy(p, tmp_path / p.name)
    with open(tmp_path / "run1.csv", "rb") as src, gzip.open(tmp_path / "run1.csv.gz", "wb") as d:
        shutil.copyfileobj(src, d)
    with pytest.raises(LogFormatError, match=r"both run1\.csv and run1\.csv\.gz exist"):
        load_logs([tmp_path])
    logset = load_logs([tmp_path], skip_bad=True)
    assert logset.skipped == {"duplicate_file": 1}
    assert logset.workloads[0].measurements[0].n_measurements == 3  # rows not counted twice


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress((GOOD / "run1.csv").read_bytes())
    (tmp_path / "run1.csv.gz").write_bytes(data[: len(data) // 2])
    shutil.copy(GOOD / "run1.facts.jsonl", tmp_path)
    with pytest.raises(LogFormatError) as info:
        load_logs([tmp_path])
    assert info.value.code == "truncated_file" and info.value.path.name == "run1.csv.gz"
    assert load_logs([tmp_path], skip_bad=True).skipped["truncated_file"] == 1


# -- malformed synthetic logs: file:line in the error, and counted skips ---------------------------

CSV_CASES = [
    # file, 1-based line, code, text in the message
    ("truncated.csv", 5, "truncated_line", "last line is incomplete"),
    ("wrong_columns.csv", 4, "wrong_column_count", "row has 12 columns, expected 8"),
    ("bad_header.csv", 1, "bad_header", "unexpected CSV header"),
    ("missing_header.csv", 1, "bad_header", "missing CSV header"),
    ("bad_config.csv", 4, "bad_config", "value of 'block_sizes' is not a Python literal"),
    ("unknown_key.csv", 4, "unknown_config_key", "['warp_count']"),
    ("bad_perf_nan.csv", 4, "bad_perf", "'nan' is not finite"),
    ("bad_perf_inf.csv", 4, "bad_perf", "'inf' is not finite"),
    ("bad_perf_negative.csv", 4, "bad_perf", "'-1.500000' is not positive"),
    ("bad_perf_text.csv", 4, "bad_perf", "'fast' is not a number"),
    ("bad_perf_empty.csv", 4, "bad_perf", "'' is not a number"),
    ("mixed_schema.csv", 4, "mixed_schema", "header of a different schema"),
    ("missing_run_id.csv", 4, "missing_run_id", "empty run_id"),
]


@pytest.mark.parametrize(("name", "line", "code", "text"), CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_malformed_csv(name: str, line: int, code: str, text: str) -> None:
    with pytest.raises(LogFormatError) as info:
        load_logs([BAD / name, SHARED_FACTS])
    err = info.value
    assert (err.path, err.line, err.code) == (BAD / name, line, code)
    assert str(err).startswith(f"{BAD / name}:{line}: ") and text in str(err)
    assert ". Fix: " in str(err) and "skip_bad=True" in err.fix
    logset = load_logs([BAD / name, SHARED_FACTS], skip_bad=True)
    if code == "bad_header":  # nothing can be trusted without the header: the file is skipped
        assert logset.skipped == {"bad_header": 1} and logset.workloads == []
        return
    expected = {"mixed_schema": 2} if code == "mixed_schema" else {code: 1}  # header + its row
    assert logset.skipped == expected
    (w,) = logset.workloads
    ok = {m.config_id[-2:]: m.perf_ms for m in w.measurements if m.status == "ok"}
    assert ok["a1"] == 1.0 and "a2" not in ok  # good rows kept, the bad one dropped
    if code != "truncated_line":
        assert ok["a3"] == 0.5  # rows after the bad one still read


META = "shared_meta.meta.jsonl"
JSONL_CASES = [
    (["bad_json.meta.jsonl"], 2, "bad_json", "invalid JSON"),
    ([META, "truncated_facts.facts.jsonl"], 2, "truncated_line", "last line is incomplete"),
    ([META, "mixed.facts.jsonl"], 2, "mixed_schema", "no `schema` key"),
    ([META, "old_facts.facts.jsonl"], 1, "facts_version", "schema_version=99"),
    ([META, "old_sidecar.facts.jsonl"], 1, "facts_version", "'helion_learned.facts/2'"),
    (
        ["shared_facts.facts.jsonl", "orphan.meta.jsonl"],
        1,
        "meta_without_csv",
        f"meta record for run_id {RUN_B} has no CSV rows; is {BAD / 'orphan.csv'} missing?",
    ),
]


@pytest.mark.parametrize(
    ("names", "line", "code", "text"), JSONL_CASES, ids=[c[0][-1] for c in JSONL_CASES]
)
def test_malformed_jsonl(names: list[str], line: int, code: str, text: str) -> None:
    paths = [BAD / "ok_rows.csv", *(BAD / n for n in names)]
    with pytest.raises(LogFormatError) as info:
        load_logs(paths, require_facts=False)
    err = info.value
    assert (err.path, err.line, err.code) == (BAD / names[-1], line, code)
    assert str(err).startswith(f"{BAD / names[-1]}:{line}: ") and text in str(err)
    if code == "facts_version":
        assert "backfill-facts" in err.fix
    logset = load_logs(paths, require_facts=False, skip_bad=True)
    assert logset.skipped == {code: 1}
    assert [w.run_id for w in logset.workloads] == [RUN_A]


def test_facts_version_counts_missing_facts_too() -> None:
    paths = [BAD / "ok_rows.csv", BAD / META, BAD / "old_facts.facts.jsonl"]
    logset = load_logs(paths, skip_bad=True)
    assert logset.skipped == {"facts_version": 1, "missing_facts": 1} and logset.workloads == []


def test_missing_facts_names_run_kernel_file_and_fix() -> None:
    paths = [BAD / "ok_rows.csv", BAD / "shared_meta.meta.jsonl"]
    with pytest.raises(LogFormatError) as info:
        load_logs(paths)
    err = info.value
    assert (err.path, err.line, err.code) == (BAD / "ok_rows.csv", 2, "missing_facts")
    assert RUN_A in err.reason and "'synth_matmul'" in err.reason
    assert str(BAD / "ok_rows.facts.jsonl") in str(err)
    assert all(part in err.fix for part in FACTS_FIX_PARTS)
    assert load_logs(paths, skip_bad=True).skipped == {"missing_facts": 1}
    (w,) = load_logs(paths, require_facts=False).workloads
    assert w.facts is None and w.kernel_name == "synth_matmul" and w.settings is not None
    # the exact meta configs are used (no repr parsing)
    assert w.measurements[1].config == {
        "block_sizes": [64, 64, 64],
        "num_warps": 8,
        "num_stages": 5,
    }


def test_rows_without_meta_or_facts() -> None:
    with pytest.raises(LogFormatError) as info:
        load_logs([BAD / "ok_rows.csv"], require_facts=False)
    assert (info.value.line, info.value.code) == (2, "no_metadata")
    assert all(part in info.value.fix for part in FACTS_FIX_PARTS)
    assert load_logs([BAD / "ok_rows.csv"], skip_bad=True).skipped == {"no_metadata": 1}


def test_identity_mismatch(tmp_path: Path) -> None:
    record = json.loads(SHARED_FACTS.read_text())
    record["input_shapes"] = "[(1, 1)]"
    (tmp_path / "x.facts.jsonl").write_text(json.dumps(record) + "\n")
    paths = [BAD / "ok_rows.csv", BAD / "shared_meta.meta.jsonl", tmp_path / "x.facts.jsonl"]
    with pytest.raises(LogFormatError, match=r"x\.facts\.jsonl:1: .*input_shapes='\[\(1, 1\)\]'"):
        load_logs(paths)


def test_inputs_never_modified() -> None:
    before = _hashes(FIXTURES)
    load_logs([GOOD])
    for name, *_ in CSV_CASES:
        load_logs([BAD / name, SHARED_FACTS], skip_bad=True)
    for names, *_ in JSONL_CASES:
        load_logs([BAD / "ok_rows.csv", *(BAD / n for n in names)], skip_bad=True)
    assert _hashes(FIXTURES) == before


# -- the config repr parser and the error type -----------------------------------------------------


def test_parse_config_repr() -> None:
    assert parse_config_repr("Config(block_sizes=[16, 32], num_warps=4, pid_type='flat')") == {
        "block_sizes": [16, 32],
        "num_warps": 4,
        "pid_type": "flat",
    }
    assert parse_config_repr(" helion.Config(maxnreg=None, reduction_loops=[None, 64]) ") == {
        "maxnreg": None,
        "reduction_loops": [None, 64],
    }
    assert parse_config_repr("Config()") == {}
    config = helion.Config(block_sizes=[64, 32], indexing=["pointer", "block_ptr"], num_stages=3)
    assert parse_config_repr(str(config)) == parse_config_repr(repr(config)) == config.config


@pytest.mark.parametrize(
    "text",
    [
        "os.system('echo pwned')",
        "Config(block_sizes=__import__('os').system('x'))",
        "Config(**{'a': 1})",
        "Config([16, 16])",
        "Config(a=[1, 2",
        "Foo(a=1)",
        "torch.Config(a=1)",
        "Config(a=1) + 1",
        "Config(a=nan)",
        "",
    ],
)
def test_parse_config_repr_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_config_repr(text)


def test_log_format_error() -> None:
    err = LogFormatError(Path("x/run.csv"), 7, "bad thing.", "do this", code="bad_row")
    assert str(err) == "x/run.csv:7: bad thing. Fix: do this"
    assert isinstance(err, ValueError) and err.line == 7 and err.reason == "bad thing"
    assert str(LogFormatError("run.csv", None, "r", "f")) == "run.csv: r. Fix: f"
    import pickle

    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.line, again.code, str(again)) == (err.path, 7, "bad_row", str(err))
