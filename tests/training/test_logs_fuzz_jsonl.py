"""Fuzzed log ingestion, JSONL sidecar records with known damage (SYNTHETIC; see ``_fuzz_logs``)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.training._fuzz_logs import BOM
from tests.training._fuzz_logs import CHARS
from tests.training._fuzz_logs import EXAMPLES
from tests.training._fuzz_logs import FACTS_TEMPLATE
from tests.training._fuzz_logs import IDENTITY
from tests.training._fuzz_logs import INVALID_UTF8
from tests.training._fuzz_logs import META_CONFIG
from tests.training._fuzz_logs import PH
from tests.training._fuzz_logs import TEXT
from tests.training._fuzz_logs import WHITESPACE
from tests.training._fuzz_logs import _report_examples  # noqa: F401  # autouse fixture
from tests.training._fuzz_logs import check_skip_is_delete
from tests.training._fuzz_logs import csv_bytes
from tests.training._fuzz_logs import encode
from tests.training._fuzz_logs import facts_record
from tests.training._fuzz_logs import fuzz
from tests.training._fuzz_logs import line_at
from tests.training._fuzz_logs import maybe_gzip
from tests.training._fuzz_logs import meta_record
from tests.training._fuzz_logs import runs

# -- JSONL sidecars with known damage ------------------------------------------------------------

# kind -> the code it is counted under (None: depends on the junk drawn)
JSONL_CODES: dict[str, str | None] = {
    "junk": None,
    "non_object": "bad_json",
    "invalid": "bad_json",
    "deep": "bad_json",
    "bigint": "bad_json",
    "bytes": "bad_encoding",
    "missing_key": "bad_record",
    "wrong_type": "bad_record",
    "empty_run_id": "bad_record",
    "truncate": "truncated_line",
    # meta only
    "configs_bad": "bad_record",
    "settings_bad": "bad_record",
    "has_schema": "mixed_schema",
    # facts only
    "no_schema": "mixed_schema",
    "other_schema": "mixed_schema",
    "our_other_schema": "facts_version",
    "facts_not_dict": "bad_record",
    "facts_version": "facts_version",
    "facts_unknown_key": "bad_facts",
    "blocks_bad": "bad_record",
    "hw_bad": "bad_record",
}
COMMON_KINDS = [
    "junk",
    "non_object",
    "invalid",
    "deep",
    "bigint",
    "bytes",
    "missing_key",
    "wrong_type",
    "empty_run_id",
]
META_KINDS = [*COMMON_KINDS, "configs_bad", "settings_bad", "has_schema"]
FACTS_KINDS = [
    *COMMON_KINDS,
    "no_schema",
    "other_schema",
    "our_other_schema",
    "facts_not_dict",
    "facts_version",
    "facts_unknown_key",
    "blocks_bad",
    "hw_bad",
]
NOT_STRING = st.sampled_from([1, 1.5, None, [], {}, True, ["x"], {"a": "b"}])
NOT_OBJECT = st.sampled_from([[], [1, "a"], 1, -1.5, "text", None, True, float("nan")])


def damage_record(draw: st.DrawFn, record: dict[str, Any], kind: str) -> str:
    """One JSONL line (without terminator) holding ``record`` damaged in one way."""
    rec = copy.deepcopy(record)
    if kind == "junk":
        text = draw(st.text(CHARS.filter(lambda c: c not in "\r\n"), min_size=1, max_size=30))
        return text if (text[1:] if text.startswith(BOM) else text).strip() else text + "x"
    if kind == "non_object":
        return json.dumps(draw(NOT_OBJECT))
    if kind == "invalid":
        good = json.dumps(rec)
        return draw(
            st.sampled_from(
                [
                    good[:-1],
                    good + "x",
                    good + "}",
                    good.replace(":", "=", 1),
                    good.replace('"', "'"),
                    "{" + good,
                ]
            )
        )
    if kind == "deep":
        depth = draw(st.integers(1_100, 60_000))  # json's recursion limit, or a plain list
        return draw(st.sampled_from(["[" * depth, "[" * depth + "]" * depth]))
    if kind == "bigint":
        digits = "7" * draw(st.integers(4_301, 20_000))
        return draw(
            st.sampled_from(
                [digits, f'{{"run_id": {digits}}}', json.dumps(rec)[:-1] + f', "x": {digits}}}']
            )
        )
    if kind == "bytes":
        rec["kernel_name"] = draw(st.sampled_from(["", "k"])) + PH + rec["kernel_name"]
    elif kind == "missing_key":
        del rec[draw(st.sampled_from(["run_id", *IDENTITY]))]
    elif kind == "wrong_type":
        rec[draw(st.sampled_from(["run_id", *IDENTITY]))] = draw(NOT_STRING)
    elif kind == "empty_run_id":
        rec["run_id"] = ""
    elif kind == "configs_bad":
        rec["configs"] = draw(
            st.sampled_from([[1], "x", 5, True, {"c": 5}, {"m0": [1]}, {"m9": {}, "c": "x"}])
        )
    elif kind == "settings_bad":
        rec["settings"] = draw(st.sampled_from([[1], "x", 5, True, 0]))
    elif kind == "has_schema":
        rec["schema"] = draw(st.sampled_from(["helion_learned.facts/1", None, "x", 1]))
    elif kind == "no_schema":
        del rec["schema"]
    elif kind == "other_schema":
        rec["schema"] = draw(TEXT.filter(lambda s: not s.startswith("helion_learned.facts/")))
    elif kind == "our_other_schema":
        rec["schema"] = draw(st.sampled_from(["helion_learned.facts/2", "helion_learned.facts/"]))
    elif kind == "facts_not_dict":
        if draw(st.booleans()):
            del rec["facts"]
        else:
            rec["facts"] = draw(NOT_OBJECT)
    elif kind == "facts_version":
        rec["facts"]["schema_version"] = draw(st.sampled_from([0, 2, 99, "1", None, [1]]))
    elif kind == "facts_unknown_key":
        rec["facts"][draw(st.sampled_from(["bogus", "__class__", "é"]))] = 1
    elif kind == "blocks_bad":
        rec["facts"]["blocks"] = draw(st.sampled_from([5, [[1]], [{"x": 1}], "ab", [None]]))
    elif kind == "hw_bad":
        hw = FACTS_TEMPLATE["hardware_facts"]
        rec["hardware_facts"] = draw(
            st.sampled_from(
                [
                    {**hw, "compute_capability": [float("inf"), 0]},
                    {**hw, "compute_capability": [9, float("nan")]},
                    {**hw, "compute_capability": "ab"},
                    {**hw, "compute_capability": 9},
                    {**hw, "bogus": 1},
                    {},
                    "x",
                    [1],
                    5,
                    [["name", "x"]],
                ]
            )
        )
    return json.dumps(rec, ensure_ascii=kind != "bytes" and draw(st.booleans()))


@st.composite
def jsonl_scenario(draw: st.DrawFn) -> dict[str, Any]:
    rs = draw(runs())
    files: dict[str, list[tuple[str, str | None]]] = {}  # name -> [(line text, damage kind)]
    for kind, name in (("meta", "a.meta.jsonl"), ("facts", "b.facts.jsonl")):
        good = [
            meta_record(r.run_id, r.ident, {"m0": META_CONFIG})
            if kind == "meta"
            else facts_record(r.run_id, r.ident, draw(st.booleans()))
            for r in rs
            if getattr(r, kind)
        ]
        if kind == "meta" and good and draw(st.booleans()):  # a re-run adds configs
            good.append(dict(good[0], configs={"m1": {"num_warps": 8}}))
        if not good:
            continue
        lines: list[tuple[str, str | None]] = [(json.dumps(g), None) for g in good]
        kinds = META_KINDS if kind == "meta" else FACTS_KINDS
        for _ in range(draw(st.integers(0, 4))):
            bad = draw(st.sampled_from(kinds))
            line = damage_record(draw, draw(st.sampled_from(good)), bad)
            lines.insert(draw(st.integers(0, len(lines))), (line, bad))
        for _ in range(draw(st.integers(0, 2))):  # blank lines and a BOM (files concatenated)
            extra = draw(st.text(st.sampled_from(WHITESPACE), max_size=3))
            i = next(i for i, (_, bad) in enumerate(lines) if bad is None)
            if draw(st.booleans()) and not lines[i][0].startswith(BOM):
                lines[i] = (BOM + lines[i][0], None)
            else:
                lines.insert(draw(st.integers(0, len(lines))), (extra, None))
        lines.append((json.dumps(draw(st.sampled_from(good))), "sentinel"))  # a duplicate
        files[name] = lines
    rows = []
    for i, r in enumerate(rs):
        cid, config = ("m0", "") if r.meta else (f"c{i}", "Config(num_warps=4)")
        rows.append([r.run_id, "0.5", cid, "0", "ok", "1.25", "", config])
        rows.append([r.run_id, "0.6", "m1", "0", "error", "", "", "Config(num_warps=8)"])
    return {
        "runs": rs,
        "lines": files,
        "rows": rows,
        "terminator": {n: draw(st.sampled_from(["\n", "\r\n"])) for n in files},
        "bom": {n: draw(st.booleans()) for n in files},
        "gz": {n: draw(st.integers(0, 5)) == 0 for n in files},
        "truncate": {n: draw(st.none() | st.floats(0, 1)) for n in files},
    }


def jsonl_files(
    sc: dict[str, Any], *, clean: bool
) -> tuple[dict[str, bytes], list[tuple[str, int, str | None, int]]]:
    files: dict[str, bytes] = {}
    damaged: list[tuple[str, int, str | None, int]] = []
    for name, lines in sc["lines"].items():
        term, cut = sc["terminator"][name], sc["truncate"][name]
        text, bad_bytes = "", []
        for i, (line, kind) in enumerate(lines):
            last = i == len(lines) - 1
            if kind == "sentinel" and cut is not None:
                if clean:
                    continue
                line = line[: min(len(line) - 1, max(1, math.ceil(cut * len(line))))]
                kind = "truncate"
            elif kind not in (None, "sentinel"):
                if clean:
                    continue
            else:
                kind = None
            if kind is not None:
                at = len(text) + line.index(PH) if kind == "bytes" else len(text)
                damaged.append((name, line_at(text + line, at), JSONL_CODES[kind], 1))
            if kind == "bytes":
                bad_bytes.append(INVALID_UTF8[len(line) % len(INVALID_UTF8)])
            text += line + ("" if last and kind == "truncate" else term)
        data = (b"\xef\xbb\xbf" if sc["bom"][name] else b"") + encode(text, bad_bytes)
        fname, data = maybe_gzip(name, data, sc["gz"][name])
        files[fname] = data
        damaged = [(fname if n == name else n, *rest) for n, *rest in damaged]
    return files, damaged


@fuzz("jsonl_records")
@given(sc=jsonl_scenario(), as_dir=st.booleans())
def test_fuzz_jsonl_records(sc: dict[str, Any], as_dir: bool) -> None:
    """Damaged meta/facts records: exact file:line; skipped == deleted, counted once each."""
    EXAMPLES["jsonl_records"] += 1
    damaged_files, damaged = jsonl_files(sc, clean=False)
    clean_files, _ = jsonl_files(sc, clean=True)
    rows = {"c.csv": csv_bytes(sc["rows"])}
    check_skip_is_delete(
        {**damaged_files, **rows},
        {**clean_files, **rows},
        as_dir=as_dir,
        require_facts=all(r.facts for r in sc["runs"]),
        damaged=damaged,
    )
