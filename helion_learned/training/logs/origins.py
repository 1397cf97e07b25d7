"""Where each measured config came from (``<base>.origins.jsonl``, written by the collector).

One JSON object per line: ``{"run_id", "config_id", "origin"}`` with origin ``default`` (Helion's
fragment defaults), ``heuristic:<name>`` (a seed of Helion's own hand-written heuristics),
``random``, ``grid`` (our structured grid) or ``autotune`` (best of a real Helion autotune run).
Optional: without it the evaluation simply has no Helion-default / Helion-heuristic baselines.

The collector's facts sidecar adds two tags per workload from its ``workload`` section:
``helion_effective_default`` (the config Helion itself runs with autotuning off: a promoted
heuristic seed, else the fragment defaults) and ``heuristic_rank0`` (the first seed of the first
Helion heuristic that fired). A config's origin string joins its tags with ``|``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

from ..jsonl import iter_jsonl
from .parsing import split_log_path

ORIGINS_SUFFIX = ".origins.jsonl"


def origins_path(log_base: str | os.PathLike[str]) -> Path:
    return Path(log_base).with_suffix(ORIGINS_SUFFIX)  # Helion's own derivation, see sidecar.py


def _base_of(path: Path) -> Path | None:
    split = split_log_path(path)  # the log reader's own rule, so both agree on what a base is
    return split[0] if split is not None else None


def _existing(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}.gz")) if p.is_file()]


def _bases(files: Iterable[str | os.PathLike[str]]) -> list[Path]:
    return sorted({b for f in files if (b := _base_of(Path(f))) is not None})


def _workload_sections(base: Path) -> Iterator[tuple[str, dict]]:
    """(run_id, the collector's ``workload`` section) of every facts record of a log base."""
    for path in _existing(base.with_suffix(".facts.jsonl")):
        for _, rec in iter_jsonl(path, strict=True):
            yield str(rec.get("run_id")), rec.get("workload") or {}


def timing_by_run(files: Iterable[str | os.PathLike[str]]) -> dict[str, set[str]]:
    """Helion timer(s) (``collect --timing``) per collector workload ``run_id``. Records from
    before the option count as ``launch``: the collector then always ran Helion's default timer.
    Logs that are not the collector's (no ``workload`` section) are left out."""
    out: dict[str, set[str]] = {}
    for base in _bases(files):
        for run_id, workload in _workload_sections(base):
            if "collector_version" in workload:
                out.setdefault(run_id, set()).add(str(workload.get("timing", "launch")))
    return out


# The fix a mixed-timer warning ends with (training-only logs print the warning without it).
MIXED_TIMERS_FIX = "Fix: train on the logs of one timer."


def check_timing(files: Iterable[str | os.PathLike[str]],
                 runs: dict[str, set[str]] | None = None) -> str | None:
    """Raise if one workload was measured under both timers (its runs merge into one group, so
    one label would compare a graph-timed config with a launch-timed one); return a warning when
    different workloads used different timers; else None. ``runs``: ``timing_by_run(files)``
    when the caller has it already."""
    runs = timing_by_run(files) if runs is None else runs
    if mixed := sorted(r for r, modes in runs.items() if len(modes) > 1):
        raise ValueError(
            f"{len(mixed)} workload(s) were measured under both Helion timers (e.g. run_id "
            f"{mixed[0][:16]}...): their runs merge into one group, mixing launch-timed and "
            "graph-timed configs in one label. Fix: train on the logs of one timer (e.g. only "
            "data/h200_timing/cudagraph_*).")
    counts: dict[str, int] = {}
    for (mode,) in runs.values():
        counts[mode] = counts.get(mode, 0) + 1
    if len(counts) > 1:
        return (f"these logs mix Helion timers (workloads per `collect --timing`: {counts}); a "
                "short kernel's label includes launch time under one and not the other "
                f"(data/README.md, data/h200_timing). {MIXED_TIMERS_FIX}")
    return None


def load_origins(files: Iterable[str | os.PathLike[str]]) -> dict[tuple[str, str], str]:
    """``(run_id, config_id) -> "tag|tag"`` for every log base among ``files``."""
    tags: dict[tuple[str, str], list[str]] = {}

    def tag(key: tuple[str, str], value: str) -> None:
        if value not in tags.setdefault(key, []):
            tags[key].append(value)

    for base in _bases(files):
        for path in _existing(origins_path(base)):
            for lineno, rec in iter_jsonl(path, strict=True):
                try:
                    tag((str(rec["run_id"]), str(rec["config_id"])), str(rec["origin"]))
                except KeyError as e:
                    raise ValueError(f"{path}:{lineno}: bad origins record (missing {e}); expected "
                                     '{"run_id", "config_id", "origin"}') from e
        for run_id, workload in _workload_sections(base):
            if workload.get("helion_default_config_id"):
                tag((run_id, str(workload["helion_default_config_id"])), "helion_effective_default")
            seeds = workload.get("heuristic_seed_ids") or []
            if seeds:
                tag((run_id, str(seeds[0])), "heuristic_rank0")
    return {k: "|".join(v) for k, v in tags.items()}
