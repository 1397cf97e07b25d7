"""The collector's output files: shard log bases, per-workload rollback, failure and origin records.

A workload's output is committed by the last thing written for it, its facts record (``workload``
section: :func:`.plan.read_done` then treats it as done). Everything written before that
(Helion's CSV rows and ``.meta.jsonl`` record, our origins) is rolled back whenever the workload
does not reach that commit: it failed, was cut short by the deadline, or its process was killed.
So every ``run_id`` in the data files has its CSV rows, meta record and facts record together, and
a workload that left nothing is simply collected again by a later call. Each shard base has one
writer (its pid is in the name), so truncating a file back to its earlier size is safe.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from . import plan as cp

# Files Helion derives from ``autotune_log`` (``Path.with_suffix``) that hold data, plus ours.
# The human-readable ``.log`` is left alone: it is where a discarded run's story is told.
_ROLLBACK_SUFFIXES = (".csv", ".meta.jsonl", ".sources.csv", ".trace.jsonl", ".origins.jsonl",
                      ".facts.jsonl")


def _host() -> str:
    # No dots: Helion derives its file names with Path.with_suffix.
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname())[:40]
    return host or "host"


def shard_base(out: Path, shard_index: int) -> Path:
    return out / f"shard{shard_index}_{_host()}_{os.getpid()}"


def snapshot(base: Path) -> dict[str, int | None]:
    """Sizes of the shard's data files now (None: absent), to roll a workload back to."""
    sizes: dict[str, int | None] = {}
    for suffix in _ROLLBACK_SUFFIXES:
        path = base.with_suffix(suffix)
        sizes[str(path)] = path.stat().st_size if path.exists() else None
    return sizes


def rollback(sizes: dict[str, int | None]) -> list[str]:
    """Cut each file back to its snapshot size (remove the ones that did not exist). Returns the
    files that changed."""
    changed = []
    for name, size in sizes.items():
        path = Path(name)
        if not path.exists():
            continue
        if size is None:
            path.unlink()
            changed.append(name)
        elif path.stat().st_size > size:
            os.truncate(path, size)
            changed.append(name)
    return changed


def csv_rows_since(path: Path, offset: int) -> list[list[str]]:
    """Helion's CSV rows appended after byte ``offset`` (header lines skipped)."""
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        f.seek(offset)
        return [row for row in csv.reader(f) if row and row[0] != "run_id"]


def csv_run_ids(path: Path, offset: int) -> set[str]:
    """run_ids of the CSV rows Helion appended after ``offset``."""
    return {row[0] for row in csv_rows_since(path, offset)}


def unfinished_config(sizes: dict[str, int | None]) -> dict[str, str] | None:
    """The config whose ``started`` row has no result row after it: the one a killed workload was
    measuring (what crashed or hung). Read before :func:`rollback` erases it."""
    csv_name = next((n for n in sizes if n.endswith(".csv") and not n.endswith(".sources.csv")),
                    None)
    if csv_name is None:
        return None
    pending: dict[str, list[str]] = {}
    for row in csv_rows_since(Path(csv_name), sizes[csv_name] or 0):
        if len(row) < 8:
            continue  # the torn last row of a killed writer
        if row[4] == "started":
            pending[row[2]] = row
        else:
            pending.pop(row[2], None)
    if not pending:
        return None
    row = list(pending.values())[-1]
    return {"run_id": row[0], "config_id": row[2], "config": row[7]}


def write_origins(base: Path, run_id: str, origins: list[tuple[str, str]]) -> None:
    from ..logs.origins import origins_path

    lines = "".join(json.dumps({"run_id": run_id, "config_id": c, "origin": o}) + "\n"
                    for c, o in origins)
    fd = os.open(origins_path(base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, lines.encode("utf-8"))  # one write: concurrent appenders never interleave
    finally:
        os.close(fd)


def record_failure(out: Path, item: cp.WorkItem, hardware: str, error: str, shard: int,
                   **extra: Any) -> None:
    """Append the workload to ``failures.jsonl`` (resume then skips it unless --retry-failed)."""
    from ...features.sidecar import append_record

    record = {"workload": {**item.to_dict(), "hardware": hardware}, "error": error[-4000:],
              "timestamp": time.time(), "shard": shard, "host": socket.gethostname(), **extra}
    append_record(out / cp.FAILURES_FILE, record)


def _pid_alive(base: Path) -> bool:
    """Whether the process that owns a shard base (``shard<i>_<host>_<pid>``) still runs here."""
    head, _, pid = base.name.rpartition("_")
    if not pid.isdigit() or not head.endswith(f"_{_host()}"):
        return False  # another machine's shard: nobody here is writing it
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError, ValueError):
        return False
    return True


def _run_id_of(line: str, suffix: str) -> str | None:
    if suffix.endswith(".csv"):
        return line.split(",", 1)[0] or None
    try:
        return str(json.loads(line).get("run_id"))
    except (json.JSONDecodeError, AttributeError):
        return None


def repair_orphans(out: Path, *, check_pid: bool = True) -> dict[str, int]:
    """Remove the rows of workloads that never committed (no facts record) from shard files of
    collectors that are no longer running — what a collector killed mid-workload leaves behind.
    Without this, resuming would measure that workload again and duplicate its rows.
    ``check_pid=False``: files copied from another machine, whose writers are all gone."""
    removed: dict[str, int] = {}
    for csv_path in sorted(out.glob("shard*.csv")):
        base = csv_path.with_suffix("")
        if csv_path.name.endswith(".sources.csv") or (check_pid and _pid_alive(base)):
            continue
        facts = base.with_suffix(".facts.jsonl")
        committed = set()
        if facts.exists():
            for line in facts.read_text(encoding="utf-8").splitlines():
                run_id = _run_id_of(line, ".jsonl")
                if run_id:
                    committed.add(run_id)
        for suffix in (".csv", ".meta.jsonl", ".origins.jsonl", ".sources.csv"):
            path = base.with_suffix(suffix)
            if not path.exists():
                continue
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            keep = [ln for ln in lines
                    if ln.startswith("run_id,") or _run_id_of(ln, suffix) in committed]
            if len(keep) != len(lines):
                tmp = path.with_name(f".{path.name}.repair")
                tmp.write_text("".join(keep), encoding="utf-8")
                os.replace(tmp, path)
                removed[path.name] = len(lines) - len(keep)
    return removed
