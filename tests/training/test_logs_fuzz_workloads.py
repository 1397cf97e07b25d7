"""Fuzzed log ingestion, workload level: meta, CSV and facts that do not fit together (SYNTHETIC)."""

from __future__ import annotations

import collections
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from helion_learned.training.logs import LogFormatError
from helion_learned.training.logs import LogSet
from tests.training._fuzz_logs import EXAMPLES
from tests.training._fuzz_logs import _report_examples  # noqa: F401  # autouse fixture
from tests.training._fuzz_logs import csv_bytes
from tests.training._fuzz_logs import facts_record
from tests.training._fuzz_logs import fuzz
from tests.training._fuzz_logs import identity
from tests.training._fuzz_logs import jsonl
from tests.training._fuzz_logs import load_both
from tests.training._fuzz_logs import meta_record
from tests.training._fuzz_logs import workdir
from tests.training._fuzz_logs import write_files

# -- workload-level problems: meta/CSV/facts that do not fit together ------------------------------


@st.composite
def workload_scenario(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(
        st.lists(
            st.text("0123456789abcdefé☃ ", min_size=1, max_size=6).map(str.strip).filter(bool),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    runs_ = []
    for i, run_id in enumerate(ids):
        runs_.append(
            {
                "run_id": run_id,
                "ident": identity(i, draw),
                "rows": draw(st.sampled_from(["none", "a", "b", "ab"])),
                "meta": draw(st.booleans()),
                "facts": draw(st.booleans()),
                "mismatch": draw(st.sampled_from([None, "input_shapes", "dtypes", "hardware"])),
                "started_only": draw(st.booleans()),
            }
        )
    return {
        "runs": runs_,
        "require_facts": draw(st.booleans()),
        "order": draw(st.permutations(range(len(runs_)))),
    }


@fuzz("workloads")
@given(sc=workload_scenario())
def test_fuzz_workload_level(sc: dict[str, Any]) -> None:
    """Meta without CSV rows, rows without meta or facts, missing facts, facts that disagree with
    meta: one skip per workload, the error at the meta record / first row / facts record."""
    EXAMPLES["workloads"] += 1
    rows: dict[str, list[list[str]]] = {"a.csv": [], "b.csv": []}
    meta, facts = [], []
    first_row: dict[str, tuple[str, int]] = {}
    for i in sc["order"]:
        r = sc["runs"][i]
        status = "started" if r["started_only"] else "ok"
        for name in ("a.csv", "b.csv"):
            if name[0] in r["rows"]:
                rows[name].append([r["run_id"], "0", f"c{i}", "0", status, "2.5", "", "Config()"])
    for name in ("a.csv", "b.csv"):  # reading order: a.csv, then b.csv; header is line 1
        for line, row in enumerate(rows[name], start=2):
            first_row.setdefault(row[0], (name, line))
    for r in sc["runs"]:
        if r["meta"]:
            meta.append(meta_record(r["run_id"], r["ident"], {}))
        if r["facts"]:
            ident = dict(r["ident"])
            if r["mismatch"] and r["meta"]:
                ident[r["mismatch"]] += "-other"
            facts.append(facts_record(r["run_id"], ident, True))
    files = {n: csv_bytes(rs) for n, rs in rows.items()}
    files.update({"m.meta.jsonl": jsonl(meta), "f.facts.jsonl": jsonl(facts)})
    expected: list[tuple[int, str, str, str, int]] = []  # (phase, run_id, code, file, line)
    for r in sc["runs"]:
        run_id, where = r["run_id"], first_row.get(r["run_id"])
        if where is None:
            if r["meta"]:
                line = 1 + [m["run_id"] for m in meta].index(run_id)
                expected.append((0, run_id, "meta_without_csv", "m.meta.jsonl", line))
            continue
        if not (r["meta"] or r["facts"]):
            expected.append((1, run_id, "no_metadata", *where))
        elif not r["facts"] and sc["require_facts"]:
            expected.append((1, run_id, "missing_facts", *where))
        elif r["meta"] and r["facts"] and r["mismatch"]:
            line = 1 + [f["run_id"] for f in facts].index(run_id)
            expected.append((1, run_id, "identity_mismatch", "f.facts.jsonl", line))
    root = workdir("workloads")
    written = write_files(root, files)
    strict, skipped = load_both([root], written, require_facts=sc["require_facts"])
    assert skipped.skipped == collections.Counter(e[2] for e in expected)
    assert len(skipped.workloads) == len(
        {r["run_id"] for r in sc["runs"] if r["run_id"] in first_row}
    ) - sum(1 for e in expected if e[0] == 1)
    if expected:
        _, _, code, name, line = min(expected)
        assert isinstance(strict, LogFormatError)
        assert (strict.code, strict.path.name, strict.line) == (code, name, line), str(strict)
    else:
        assert isinstance(strict, LogSet)
