"""Errors for malformed autotune logs: where the problem is (file, 1-based line) and how to fix it.

Each constructor below is one kind of problem; its ``code`` is the key under which
``load_logs(skip_bad=True)`` counts skipped rows/records.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

SKIP_BAD_HINT = "or pass skip_bad=True (CLI: --skip-bad) to skip and count it"
CSV_FIELDS: tuple[str, ...] = (
    "run_id",
    "timestamp_s",
    "config_id",
    "generation",
    "status",
    "perf_ms",
    "compile_time_s",
    "config",
)
_FACTS_FIX = (
    "run the workload with helion_learned installed (`helion-learned exec SCRIPT` or "
    "`helion_learned.install()`) so {sidecar} is written, or backfill it with "
    "`helion-learned backfill-facts LOGS --kernels MODULE`"
)
_REWRITE_FACTS = (
    "re-record the facts with this helion_learned version (re-run the workload with it "
    "installed, or `helion-learned backfill-facts LOGS --kernels MODULE`)"
)


class LogFormatError(ValueError):
    """A problem in an autotune log, located in a file and line, with a suggested fix.

    ``str()`` is ``"path:line: reason. Fix: fix"`` (``"path: ..."`` when no line applies).
    ``code`` is the short reason key under which ``load_logs(skip_bad=True)`` counts it.
    """

    def __init__(
        self, path: str | Path, line: int | None, reason: str, fix: str, *, code: str = "bad_log"
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason.rstrip(". ")
        self.fix = fix.rstrip(". ")
        self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.reason}. Fix: {self.fix}"

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (multiprocessing)
        return (_rebuild, (self.path, self.line, self.reason, self.fix, self.code))

    def at(self, path: Path, line: int) -> LogFormatError:
        """The same problem at another place (a cached parse failure seen again)."""
        return LogFormatError(path, line, self.reason, self.fix, code=self.code)


def _rebuild(path: Path, line: int | None, reason: str, fix: str, code: str) -> LogFormatError:
    return LogFormatError(path, line, reason, fix, code=code)


def _fix_line(what: str = "line") -> str:
    return f"fix or delete this {what}, {SKIP_BAD_HINT}"


# -- files ---------------------------------------------------------------------------------------


def not_a_log(path: Path) -> LogFormatError:
    fix = (
        "pass <base>.csv, <base>.meta.jsonl or <base>.facts.jsonl (optionally .gz), the base "
        "path given to HELION_AUTOTUNE_LOG, or a directory"
    )
    return LogFormatError(path, None, "not an autotune log file", fix, code="not_a_log")


def no_logs(paths: Sequence[Any]) -> LogFormatError:
    shown = ", ".join(str(p) for p in paths) or "(no paths)"
    fix = "point at <base>.csv files or directories holding them (HELION_AUTOTUNE_LOG=<base>)"
    return LogFormatError(shown, None, "no autotune logs found", fix, code="no_logs")


def duplicate_file(plain: Path, gz: Path) -> LogFormatError:
    fix = (
        "keep only one of them (reading both would count every row twice); with skip_bad the "
        "uncompressed one is read"
    )
    return LogFormatError(
        gz, None, f"both {plain.name} and {gz.name} exist", fix, code="duplicate_file"
    )


def stream_error(path: Path, line: int, exc: BaseException) -> LogFormatError:
    if isinstance(exc, UnicodeDecodeError):
        reason = f"file is not valid UTF-8 from this line on ({exc.reason})"
        fix = f"the file is damaged or not an autotune log; re-copy it, {SKIP_BAD_HINT}"
        return LogFormatError(path, line, reason, fix, code="bad_encoding")
    reason = f"file ends unexpectedly or is damaged at this line ({type(exc).__name__}: {exc})"
    fix = f"the (compressed) file is cut off or corrupt; re-copy the finished log, {SKIP_BAD_HINT}"
    return LogFormatError(path, line, reason, fix, code="truncated_file")


def bad_encoding(path: Path, line: int) -> LogFormatError:
    reason = "line holds bytes that are not UTF-8"
    fix = (
        "the file was damaged (a bad copy or disk) or this line was written by another tool in "
        f"another encoding; re-copy the log or fix this line, {SKIP_BAD_HINT}"
    )
    return LogFormatError(path, line, reason, fix, code="bad_encoding")


def truncated_line(path: Path, line: int) -> LogFormatError:
    fix = (
        "this happens when a log is copied while Helion is still writing it, or after a crash; "
        f"re-copy the finished log, {SKIP_BAD_HINT}"
    )
    reason = "last line is incomplete (the file was cut off mid-write)"
    return LogFormatError(path, line, reason, fix, code="truncated_line")


# -- CSV -----------------------------------------------------------------------------------------


def bad_csv(path: Path, line: int, exc: Exception) -> LogFormatError:
    return LogFormatError(path, line, f"unreadable CSV record ({exc})", _fix_line(), code="bad_csv")


def bad_header(path: Path, line: int, fields: Sequence[str]) -> LogFormatError:
    kind = "missing CSV header" if fields and fields[0] != "run_id" else "unexpected CSV header"
    reason = f"{kind} (got {','.join(fields)[:120]!r}, expected {','.join(CSV_FIELDS)!r})"
    fix = (
        "pass Helion's <base>.csv autotune log (HELION_AUTOTUNE_LOG); if the header line was "
        f"lost, restore it as the first line, {SKIP_BAD_HINT}"
    )
    return LogFormatError(path, line, reason, fix, code="bad_header")


def mixed_header(path: Path, line: int, fields: Sequence[str]) -> LogFormatError:
    reason = f"header of a different schema mid-file: {','.join(fields)[:120]!r}"
    fix = (
        "the file mixes two kinds of CSV; split it so each file holds only Helion autotune "
        f"rows ({SKIP_BAD_HINT}: the header and the rows under it are skipped)"
    )
    return LogFormatError(path, line, reason, fix, code="mixed_schema")


def wrong_columns(path: Path, line: int, n: int) -> LogFormatError:
    reason = f"row has {n} columns, expected {len(CSV_FIELDS)} ({','.join(CSV_FIELDS)})"
    fix = (
        "the row was edited or written by another tool (an unquoted comma in the config?); "
        + _fix_line("row")
    )
    return LogFormatError(path, line, reason, fix, code="wrong_column_count")


def missing_run_id(path: Path, line: int) -> LogFormatError:
    fix = (
        "Helion writes an empty run_id only when it has no kernel metadata; such rows cannot "
        f"be joined to a workload, {SKIP_BAD_HINT}"
    )
    return LogFormatError(path, line, "row has an empty run_id", fix, code="missing_run_id")


def bad_row(path: Path, line: int, config_id: str, status: str) -> LogFormatError:
    reason = f"row has config_id={config_id!r}, status={status!r}"
    return LogFormatError(path, line, reason, _fix_line("row"), code="bad_row")


def bad_perf(path: Path, line: int, problem: str) -> LogFormatError:
    fix = "an ok row needs a positive finite perf_ms; " + _fix_line("row")
    return LogFormatError(path, line, f"ok row with bad {problem}", fix, code="bad_perf")


def bad_config(path: Path, line: int, problem: str) -> LogFormatError:
    fix = (
        "the config column must be Helion's `Config(key=value, ...)` repr with literal values; "
        + _fix_line("row")
    )
    return LogFormatError(path, line, problem, fix, code="bad_config")


def unknown_config_key(path: Path, line: int, keys: Sequence[str]) -> LogFormatError:
    reason = f"config has unknown key(s) {list(keys)} (not helion.Config arguments)"
    fix = (
        "if these are user tunables (hl.register_tunable), log with "
        "HELION_AUTOTUNE_LOG_DETAILS=1 so <base>.meta.jsonl lists the exact configs; otherwise "
        f"the row is corrupt or from another Helion version, {SKIP_BAD_HINT}"
    )
    return LogFormatError(path, line, reason, fix, code="unknown_config_key")


# -- JSONL ---------------------------------------------------------------------------------------


def bad_json(path: Path, line: int, problem: str) -> LogFormatError:
    fix = "each line must be one JSON object; " + _fix_line()
    return LogFormatError(path, line, problem, fix, code="bad_json")


def bad_record(path: Path, line: int, kind: str, what: str) -> LogFormatError:
    return LogFormatError(path, line, f"bad {kind} record: {what}", _fix_line(), code="bad_record")


def facts_in_meta(path: Path, line: int, schema: object) -> LogFormatError:
    reason = f"record with schema {schema!r} in a Helion meta.jsonl"
    fix = (
        f"{path.name} must hold only Helion's meta records; move facts records to "
        "<base>.facts.jsonl, or delete this line"
    )
    return LogFormatError(path, line, reason, fix, code="mixed_schema")


def facts_schema(path: Path, line: int, schema: object, expected: str) -> LogFormatError:
    ours = isinstance(schema, str) and schema.startswith("helion_learned.facts/")
    what = f"schema {schema!r}" if schema is not None else "no `schema` key"
    reason = f"facts record has {what}; this helion_learned reads {expected}"
    if ours:
        return LogFormatError(path, line, reason, _REWRITE_FACTS, code="facts_version")
    fix = (
        f"{path.name} must hold only helion_learned facts records; delete this line (Helion's "
        "own records belong in <base>.meta.jsonl)"
    )
    return LogFormatError(path, line, reason, fix, code="mixed_schema")


def facts_rejected(path: Path, line: int, exc: ValueError, version: bool) -> LogFormatError:
    """KernelFacts.from_dict refused the record; reuse its own explanation and fix."""
    reason, _, fix = str(exc).partition(". ")
    return LogFormatError(
        path,
        line,
        reason,
        fix or _REWRITE_FACTS,
        code="facts_version" if version else "bad_facts",
    )


# -- joining -------------------------------------------------------------------------------------


def meta_without_csv(path: Path, line: int, run_id: str, csv_name: str) -> LogFormatError:
    reason = f"meta record for run_id {run_id} has no CSV rows; is {csv_name} missing?"
    fix = (
        "pass the CSV together with its meta.jsonl (same directory, or in the same call), "
        + SKIP_BAD_HINT
    )
    return LogFormatError(path, line, reason, fix, code="meta_without_csv")


def no_metadata(path: Path, line: int, run_id: str, sidecar: str) -> LogFormatError:
    reason = (
        f"run_id {run_id} has CSV rows but no meta.jsonl record and no facts record, so its "
        "kernel, shapes and hardware are unknown"
    )
    fix = "log with HELION_AUTOTUNE_LOG_DETAILS=1 (writes <base>.meta.jsonl) and " + (
        _FACTS_FIX.format(sidecar=sidecar)
    )
    return LogFormatError(path, line, reason, fix, code="no_metadata")


def missing_facts(
    path: Path, line: int, run_id: str, kernel_name: str, sidecar: str
) -> LogFormatError:
    reason = (
        f"no facts record for run_id {run_id} (kernel {kernel_name!r}) in any facts.jsonl "
        f"given; expected it in {sidecar}"
    )
    fix = _FACTS_FIX.format(sidecar=sidecar) + ", or load with require_facts=False"
    return LogFormatError(path, line, reason, fix, code="missing_facts")


def identity_mismatch(
    path: Path, line: int, run_id: str, key: str, ours: object, theirs: object, where: str
) -> LogFormatError:
    reason = f"facts record for run_id {run_id} has {key}={ours!r} but {where} has {theirs!r}"
    fix = (
        "the facts sidecar was written with a different run_id computation; re-record it "
        "(`helion-learned backfill-facts LOGS --kernels MODULE`)"
    )
    return LogFormatError(path, line, reason, fix, code="identity_mismatch")
