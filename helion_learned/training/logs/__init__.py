"""Read Helion's native autotune logs and turn them into training workloads.

Inputs, per log base (the path given to ``HELION_AUTOTUNE_LOG``), each optionally ``.gz``:

* ``<base>.csv``: Helion's rows ``run_id,timestamp_s,config_id,generation,status,perf_ms,
  compile_time_s,config``. Appended across runs, so one file can hold many runs.
* ``<base>.meta.jsonl``: with ``HELION_AUTOTUNE_LOG_DETAILS=1``, one record per autotune run with
  the kernel identity and the exact ``configs`` by ``config_id``.
* ``<base>.facts.jsonl``: our sidecar (:mod:`helion_learned.features.sidecar`) with KernelFacts.

Everything is joined on Helion's ``run_id`` across *all* files given (it is a workload id: the
same kernel, shapes, settings and hardware give the same id in every run), so logs of one
workload spread over several files or machines merge into one :class:`Workload`. Joining
globally also copes with Helion deriving file names via ``Path.with_suffix`` (a base
``runs/h100.v2`` makes Helion write ``runs/h100.csv``). Input files are only ever read.

Modules: this one (:func:`load_logs`, :func:`summarize`), :mod:`.records` (the workload
types), :mod:`.loader` (reading and joining), :mod:`.parsing` (file formats),
:mod:`.errors` (errors with file, line and fix).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import errors
from . import parsing as lp
from .errors import LogFormatError
from .loader import Loader
from .parsing import discover_log_bases
from .parsing import parse_config_repr
from .records import LogSet
from .records import Measurement
from .records import Workload
from .records import workload_key

__all__ = [
    "LogFormatError",
    "LogSet",
    "Measurement",
    "Workload",
    "discover_log_bases",
    "load_logs",
    "parse_config_repr",
    "summarize",
    "workload_key",
]


def load_logs(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    skip_bad: bool = False,
    require_facts: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> LogSet:
    """Load every log under ``paths`` into workloads, one per Helion run_id.

    Raises :class:`LogFormatError` (file, line, fix) on the first problem, unless ``skip_bad``:
    then bad rows/records are skipped and counted in ``LogSet.skipped`` by reason (rows or records
    for row-level problems, one per workload for workload-level ones, one per file for a bad
    header or a damaged file). ``progress(done, total)`` is called after each file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    loader = Loader(skip_bad)
    per_kind: dict[str, list[Path]] = {"meta": [], "facts": [], "csv": []}
    for base in discover_log_bases(paths):
        for kind, found in lp.base_files(base).items():
            if len(found) > 1:
                loader.bad(errors.duplicate_file(found[0], found[1]))
            per_kind[kind].append(found[0])
    # meta and facts first: CSV configs are resolved against the meta `configs` of their run.
    todo = [(kind, path) for kind, paths_of_kind in per_kind.items() for path in paths_of_kind]
    if not todo:
        raise errors.no_logs(paths)
    for done, (kind, path) in enumerate(todo, start=1):
        if kind == "csv":
            loader.read_csv(path)
        else:
            loader.read_jsonl(path, kind)
        if progress is not None:
            progress(done, len(todo))
    workloads = loader.workloads(require_facts)
    return LogSet(workloads=workloads, skipped=loader.skipped, files=sorted(p for _, p in todo))


def summarize(logset: LogSet) -> dict[str, Any]:
    """Counts for a log set: files, workloads, measurements, ok/failed, and per kernel_name.

    ``failed`` counts every measurement that is not ok, including ``filtered``/``deduplicated``.
    """
    per_kernel: dict[str, dict[str, int]] = {}
    totals = collections.Counter[str]()
    for w in logset.workloads:
        entry = per_kernel.setdefault(
            w.kernel_name, {"workloads": 0, "measurements": 0, "ok": 0, "failed": 0}
        )
        ok = w.n_ok
        for counter in (entry, totals):
            counter["workloads"] += 1
            counter["measurements"] += len(w.measurements)
            counter["ok"] += ok
            counter["failed"] += len(w.measurements) - ok
    return {
        "files": len(logset.files),
        "workloads": totals["workloads"],
        "measurements": totals["measurements"],
        "ok": totals["ok"],
        "failed": totals["failed"],
        "skipped": dict(sorted(logset.skipped.items())),
        "per_kernel": dict(sorted(per_kernel.items())),
    }
