"""Training-only logs that measured one workload under both Helion timers.

Scored logs refuse that (``origins.check_timing``): one run_id is one group, so its label would
compare launch-timed configs with graph-timed ones. Training-only rows (``--extra-logs``) can
still use both measurements, as two groups, one per timer, the way a workload measured on two
GPUs is two groups: ``data/h200`` (launch timer) and ``data/h200_explore`` (CUDA-graph timer)
share 29 run_ids. :func:`timer_parts` splits the log bases by timer, only when a run_id is in more
than one, so logs without that overlap load exactly as before; :func:`concat` joins the parts.

Scored logs may hold one workload under both timers too when the caller names the timer to
score on (``--prefer-timer``): :func:`prefer` keeps that timer's group and leaves the other
timer's twin out, so every scored group has one timer (``data/h100`` + ``data/h100_graph``: the
short kernels re-measured under CUDA-graph timing replace their launch-timed labels).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .logs.origins import timing_by_run
from .logs.parsing import discover_log_bases


def timer_parts(paths: Sequence[str | os.PathLike[str]]) -> list[list[Path]]:
    """``paths`` as one part, or their log bases grouped by timer when a workload's run_id was
    measured under more than one timer in different bases. A base that mixes timers itself
    stays where it is, so the usual check still names it."""
    return list(timer_parts_by_name(paths).values())


def timer_parts_by_name(paths: Sequence[str | os.PathLike[str]]) -> dict[str, list[Path]]:
    """:func:`timer_parts` keyed by timer (``launch``, ``cudagraph``; ``"paths"`` when the
    paths load as one part), in name order."""
    bases = discover_log_bases(paths)
    per_base = {b: timing_by_run([b.with_name(f"{b.name}.facts.jsonl")]) for b in bases}
    modes: dict[str, set[str]] = {}
    for runs in per_base.values():
        for run_id, m in runs.items():
            modes.setdefault(run_id, set()).update(m)
    if not any(len(m) > 1 for m in modes.values()):
        return {"paths": list(map(Path, paths))}
    parts: dict[str, list[Path]] = {}
    for base, runs in per_base.items():
        found = {m for ms in runs.values() for m in ms}
        key = found.pop() if len(found) == 1 else "+".join(sorted(found)) or "launch"
        parts.setdefault(key, []).append(base)
    return {k: parts[k] for k in sorted(parts)}


def prefer(parts: dict[str, Dataset], timer: str) -> tuple[Dataset, int]:
    """One dataset from per-timer parts: a workload (run_id) in the ``timer`` part keeps only
    that group; its twins under other timers are left out. Returns it and how many twins were
    left out. Refuses a timer no part holds (the fix names those that do)."""
    if timer not in parts:
        raise ValueError(f"--prefer-timer {timer}: no scored workload was measured under both "
                         f"timers with {timer!r} as one of them (the logs' timers: "
                         f"{sorted(parts)}). Fix: drop --prefer-timer, or add the {timer} logs")
    preferred = {g.run_id for g in parts[timer].groups}
    out: list[Dataset] = [parts[timer]]
    left_out = 0
    for name, ds in parts.items():
        if name == timer:
            continue
        keep = [i for i, g in enumerate(ds.groups) if g.run_id not in preferred]
        left_out += len(ds.groups) - len(keep)
        out.append(ds.subset(keep))
    return concat(out), left_out


def load_preferring(paths: Sequence[str | os.PathLike[str]], timer: str,
                    load: Callable[[list[Path], str], Dataset]) -> tuple[Dataset, int]:
    """Scored logs, a workload measured under both timers kept on ``timer``'s rows only
    (:func:`prefer`); ``load(paths, part)`` builds one part's dataset (``part`` is the timer's
    name, "" when the logs load as one). Returns the dataset and how many twins were left out."""
    named = timer_parts_by_name(paths)
    if len(named) == 1:
        return load(list(map(Path, paths)), ""), 0
    return prefer({name: load(p, name) for name, p in named.items()}, timer)


def shared_run_ids(datasets: Sequence[Dataset]) -> int:
    """How many run_ids are in more than one of ``datasets`` (the workloads split by timer)."""
    seen: dict[str, int] = {}
    for ds in datasets:
        for run_id in {g.run_id for g in ds.groups}:
            seen[run_id] = seen.get(run_id, 0) + 1
    return sum(n > 1 for n in seen.values())


def concat(datasets: Sequence[Dataset]) -> Dataset:
    """Plain datasets of one backend and feature list, one after another (groups renumbered)."""
    first = datasets[0]
    for ds in datasets[1:]:
        if ds.backend != first.backend or ds.feature_names != first.feature_names:
            raise ValueError("these logs hold workloads of different backends or feature lists; "
                             "a model is per backend: pass one backend's logs")
    if any(ds.scored is not None for ds in datasets):
        raise ValueError("concat takes plain datasets (before with_training_only)")
    dropped: dict[str, int] = {}
    offsets = np.cumsum([0] + [len(ds.groups) for ds in datasets])
    for ds in datasets:
        for k, v in ds.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
    return Dataset([g for ds in datasets for g in ds.groups],
                   np.concatenate([ds.X for ds in datasets]),
                   np.concatenate([ds.y for ds in datasets]),
                   np.concatenate([ds.row_group + off for ds, off in zip(datasets, offsets,
                                                                          strict=False)]),
                   first.feature_names, dropped, first.backend)
