"""Fuzzed log ingestion, CSV rows with known damage (SYNTHETIC logs; see ``_fuzz_logs``)."""

from __future__ import annotations

import collections
import csv
import dataclasses
import io
import keyword
import math
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from helion_learned.training.logs.parsing import CSV_FIELDS
from helion_learned.training.logs.parsing import helion_config_keys
from tests.training._fuzz_logs import BOM
from tests.training._fuzz_logs import CHARS
from tests.training._fuzz_logs import EVIL_CONFIGS
from tests.training._fuzz_logs import EXAMPLES
from tests.training._fuzz_logs import FIELD
from tests.training._fuzz_logs import INVALID_UTF8
from tests.training._fuzz_logs import LITERAL
from tests.training._fuzz_logs import META_CONFIG
from tests.training._fuzz_logs import NOT_STATUS
from tests.training._fuzz_logs import PH
from tests.training._fuzz_logs import TEXT
from tests.training._fuzz_logs import WHITESPACE
from tests.training._fuzz_logs import Run
from tests.training._fuzz_logs import _report_examples  # noqa: F401  # autouse fixture
from tests.training._fuzz_logs import check_skip_is_delete
from tests.training._fuzz_logs import encode
from tests.training._fuzz_logs import facts_record
from tests.training._fuzz_logs import fuzz
from tests.training._fuzz_logs import jsonl
from tests.training._fuzz_logs import line_at
from tests.training._fuzz_logs import maybe_gzip
from tests.training._fuzz_logs import meta_record
from tests.training._fuzz_logs import runs
from tests.training._fuzz_logs import valid_config

# -- CSV files with known damage -----------------------------------------------------------------


@dataclasses.dataclass
class Rec:
    """One CSV record to write: a row, a header, a blank line. ``bad``: the damage, or None."""

    fields: list[str] | None  # None: a blank line
    bad: str | None = None
    count: int = 0  # skipped rows this record stands for (a foreign block: header + its rows)
    bad_bytes: list[bytes] = dataclasses.field(default_factory=list)
    text: str | None = None  # written verbatim instead of ``fields`` (a BOM before a header)
    sentinel: bool = False  # the good last row, which may be cut off mid-write


CSV_CODES = {
    "perf": "bad_perf",
    "config_junk": "bad_config",
    "config_evil": "bad_config",
    "config_unknown": "unknown_config_key",
    "columns": "wrong_column_count",
    "run_id_blank": "missing_run_id",
    "status": "bad_row",
    "cid_blank": "bad_row",
    "bytes": "bad_encoding",
    "foreign": "mixed_schema",
    "truncate": "truncated_line",
}
JUNK = st.text(CHARS.filter(lambda c: c != "#"), max_size=30)


def bad_config(draw: st.DrawFn, kind: str) -> str:
    if kind == "config_evil":
        return draw(st.sampled_from(EVIL_CONFIGS))
    if kind == "config_junk":  # whatever the junk, `, **kw)` can never end a valid Config(...)
        return f"Config({draw(JUNK)}, **kw)"
    dunder = st.sampled_from(["__class__", "__init__", "__globals__", "__builtins__", "_"])
    key = draw(
        (dunder | st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)).filter(
            lambda k: k not in helion_config_keys() and not keyword.iskeyword(k)
        )
    )
    return f"Config({key}={draw(LITERAL)!r})"


@st.composite
def bad_perf_text(draw: st.DrawFn) -> str:
    fixed = [
        "nan",
        "NaN",
        "-nan",
        "inf",
        "-inf",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "1e309",
        "0",
        "0.0",
        "-0",
        "-0.0",
        "-1",
        "-1e-300",
        "1e-400",
        "",
        " ",
        "fast",
        "1,5",
        "0x10",
        "1.0.0",
        "\x00",
        "1.5ms",
        "½",
        "--1",
    ]
    text = draw(st.sampled_from(fixed) | TEXT)

    def bad(s: str) -> bool:
        try:
            v = float(s)
        except ValueError:
            return True
        return not (math.isfinite(v) and v > 0)

    return text if bad(text) else text + "x"  # "x" makes any number text non-numeric


def good_perf(draw: st.DrawFn) -> str:
    value = draw(st.floats(min_value=1e-300, max_value=1e300))
    return draw(st.sampled_from([repr(value), f" {value!r} ", f"{value:.6e}"]))


STATUSES = ["ok", "ok", "error", "timeout", "started", "deduplicated", "filtered", " ok "]
ALPHA_STATUS = st.text(st.characters(categories=["Lu", "Ll", "Lo"]), min_size=1, max_size=6)


@st.composite
def csv_scenario(draw: st.DrawFn) -> dict[str, Any]:
    rs = draw(runs())
    rows: list[dict[str, Any]] = []
    for r in rs:
        for k in range(draw(st.integers(1, 5))):
            status = draw(st.sampled_from(STATUSES) | ALPHA_STATUS)
            if r.meta and draw(st.integers(0, 4)) == 0:
                cid, config = "m0", draw(valid_config() | TEXT)  # text unused: meta has it
            elif rows and draw(st.integers(0, 3)) == 0:
                cid, config = draw(st.sampled_from(rows))["cid"], draw(valid_config())  # repeat
            else:
                cid, config = f"{draw(TEXT)}#{k}", draw(valid_config())
            perf = good_perf(draw) if status.strip() == "ok" else draw(FIELD)
            fields = [r.run_id, draw(FIELD), cid, draw(FIELD), status, perf, draw(FIELD), config]
            rows.append({"run": r, "cid": cid.strip(), "fields": fields, "status": status.strip()})
    rows = draw(st.permutations(rows))
    cid_uses = collections.Counter((row["run"].run_id, row["cid"]) for row in rows)
    records: dict[str, list[Rec]] = {"a": [], "b": []}
    for row in rows:
        fields, bad = list(row["fields"]), None
        kinds = ["columns", "run_id_blank", "status", "cid_blank", "bytes"]
        if row["status"] == "ok":
            kinds.append("perf")
        unique = cid_uses[(row["run"].run_id, row["cid"])] == 1 and row["cid"] != "m0"
        if unique and row["status"] != "started":
            kinds += ["config_junk", "config_evil", "config_unknown"]
        if draw(st.integers(0, 2)) == 0:
            bad = draw(st.sampled_from(kinds))
        rec = Rec(fields, bad, count=1 if bad else 0)
        if bad == "perf":
            fields[5] = draw(bad_perf_text())
        elif bad and bad.startswith("config_"):
            fields[7] = bad_config(draw, bad)
        elif bad == "columns":
            n = draw(st.integers(1, 14).filter(lambda n: n != len(CSV_FIELDS)))
            rec.fields = [*fields, "", "x", "0", "", " ", "y", ""][:n]
        elif bad == "run_id_blank":
            fields[0] = draw(st.text(st.sampled_from(WHITESPACE), max_size=3))
        elif bad == "status":
            s, c = fields[4], draw(st.sampled_from(NOT_STATUS))
            i = draw(st.integers(0, len(s)))
            fields[4] = s[:i] + c + s[i:]
        elif bad == "cid_blank":
            fields[2] = draw(st.text(st.sampled_from(WHITESPACE), max_size=3))
        elif bad == "bytes":
            j = draw(st.integers(0, 7))
            i = draw(st.integers(0, len(fields[j])))
            fields[j] = fields[j][:i] + PH + fields[j][i:]
            rec.bad_bytes = [draw(st.sampled_from(INVALID_UTF8))]
        records[draw(st.sampled_from("ab"))].append(rec)
    # Harmless extras: blank lines, our header again (maybe after a BOM: files concatenated).
    for name, recs in records.items():
        for _ in range(draw(st.integers(0, 2))):
            extra = draw(st.sampled_from(["blank", "header", "bom_header"]))
            rec = {
                "blank": Rec(None),
                "header": Rec(list(CSV_FIELDS)),
                "bom_header": Rec(list(CSV_FIELDS), text=BOM + ",".join(CSV_FIELDS)),
            }[extra]
            recs.insert(draw(st.integers(0, len(recs))), rec)
        if draw(st.integers(0, 4)) == 0:  # a foreign CSV pasted in: its header, rows, ours again
            header = ["run_id", *draw(st.lists(FIELD, max_size=4))]
            if tuple(header) == CSV_FIELDS:
                header.append("x")
            foreign = draw(st.lists(st.lists(FIELD, min_size=1, max_size=5), max_size=3))
            foreign = [f for f in foreign if tuple(f) != CSV_FIELDS]
            block = [Rec(header, "foreign", count=1 + len(foreign))]
            block += [Rec(f, "foreign_row") for f in foreign] + [Rec(list(CSV_FIELDS))]
            at = draw(st.integers(0, len(recs)))
            recs[at:at] = block
        # The last row is always a good one; it may be cut off mid-write.
        r0 = rs[0]
        sentinel = [r0.run_id, "1", f"sentinel#{name}", "0", "ok", "1.5", "", "Config()"]
        recs.append(Rec(sentinel, sentinel=True))
    return {
        "runs": rs,
        "records": records,
        "terminator": draw(st.sampled_from(["\n", "\r\n"])),
        "quoting": draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        "bom": draw(st.booleans()),
        "gz": {n: draw(st.integers(0, 5)) == 0 for n in "ab"},
        "truncate": {n: draw(st.none() | st.floats(0, 1)) for n in "ab"},
        "blank_first": draw(st.booleans()),
    }


def render_csv(
    recs: list[Rec],
    *,
    terminator: str,
    quoting: int,
    prefix: str,
    truncate: float | None,
    keep: Callable[[Rec], bool],
) -> tuple[str, list[bytes], list[tuple[int, Rec]]]:
    """File text (PH where invalid bytes go), the bytes, and (error line, record) per damage."""
    text, bad_bytes, damaged = prefix, [], []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=quoting)  # \r\n: quotes any \r, \n
    for rec in [Rec(list(CSV_FIELDS)), *recs]:
        if not keep(rec):
            continue
        if rec.text is not None:
            line = rec.text + terminator
        elif rec.fields is None:
            line = terminator
        else:
            out.seek(0)
            out.truncate()
            writer.writerow(rec.fields)
            line = out.getvalue()[:-2] + terminator
        if rec.sentinel and truncate is not None:  # cut off mid-write: no line terminator left
            body = line[: -len(terminator)]
            line = body[: max(1, math.ceil(truncate * len(body)))]
            rec = dataclasses.replace(rec, bad="truncate", count=1)
        if rec.bad in CSV_CODES:
            at = len(text) + line.index(PH) if rec.bad == "bytes" else len(text)
            damaged.append((line_at(text + line, at), rec))
        text += line
        bad_bytes += rec.bad_bytes
    return text, bad_bytes, damaged


def csv_files(
    sc: dict[str, Any], *, clean: bool
) -> tuple[dict[str, bytes], list[tuple[str, int, Rec]]]:
    """The damaged CSV files, or the clean ones: every damaged record deleted."""
    files: dict[str, bytes] = {}
    damaged: list[tuple[str, int, Rec]] = []
    for name, recs in sc["records"].items():
        cut = sc["truncate"][name]

        def keep(rec: Rec, cut: float | None = cut) -> bool:
            return not clean or (rec.bad is None and not (rec.sentinel and cut is not None))

        text, bad_bytes, bad = render_csv(
            recs,
            terminator=sc["terminator"],
            quoting=sc["quoting"],
            truncate=cut,
            keep=keep,
            prefix=sc["terminator"] if sc["blank_first"] else "",
        )
        data = (b"\xef\xbb\xbf" if sc["bom"] else b"") + encode(text, bad_bytes)
        fname, data = maybe_gzip(f"{name}.csv", data, sc["gz"][name])
        files[fname] = data
        damaged += [(fname, line, rec) for line, rec in bad]
    return files, damaged


def sidecars(rs: list[Run]) -> dict[str, bytes]:
    meta = [meta_record(r.run_id, r.ident, {"m0": META_CONFIG}) for r in rs if r.meta]
    facts = [facts_record(r.run_id, r.ident, i % 2 == 0) for i, r in enumerate(rs) if r.facts]
    out = {}
    if meta:
        out["a.meta.jsonl"] = jsonl(meta)
    if facts:
        out["b.facts.jsonl"] = jsonl(facts)
    return out


@fuzz("csv_rows")
@given(sc=csv_scenario(), as_dir=st.booleans())
def test_fuzz_csv_rows(sc: dict[str, Any], as_dir: bool) -> None:
    """Damaged CSV rows: exact file:line in strict mode; skipped == deleted, counted once each."""
    EXAMPLES["csv_rows"] += 1
    side = sidecars(sc["runs"])
    damaged_files, damaged = csv_files(sc, clean=False)
    clean_files, _ = csv_files(sc, clean=True)
    check_skip_is_delete(
        {**damaged_files, **side},
        {**clean_files, **side},
        as_dir=as_dir,
        require_facts=all(r.facts for r in sc["runs"]),
        damaged=[(name, line, CSV_CODES[rec.bad], rec.count) for name, line, rec in damaged],
    )
