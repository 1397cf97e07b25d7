"""Replay plans: measure on another GPU the workloads (and configs) already measured on one GPU.

Hardware transfer (issue #5) compares one workload on two GPUs, so the second GPU must measure the
same workloads and, as far as possible, the same configs. A replay plan is a JSON file made here
from collected logs (``helion-learned collect`` output, e.g. ``data/h100``)::

    python -m helion_learned.training.collect.replay data/h100 \\
        -o data/replay_plans/h100_top8_sample40.json.gz --top 8 --sample 40

For each source workload it lists the ``top`` fastest configs measured there plus ``sample``
others spread over the rest (a deterministic, order-keeping sample: failed configs included, so
the target also learns what fails). ``collect --replay FILE`` then plans exactly those workloads
(still round-robin over families, minus done ones) and measures the replayed configs beside its
own default, Helion's heuristic seeds and whatever ``--random`` / ``--grid`` add; replayed configs
get origin ``replay``. Keeping the list to about half of the source's also halves a workload's
time, which is what lets one GPU-call cover twice the workloads.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPLAY_SCHEMA = 1
Key = tuple[str, tuple[int, ...], str, str]  # family, shape, dtype, backend


def facts_workloads(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """run_id -> the collector's ``workload`` section, from every facts sidecar under ``paths``
    (read like the collector's own resume does)."""
    from ..jsonl import iter_jsonl
    from .plan import _workload_files
    from .plan import is_failures_file

    out: dict[str, dict[str, Any]] = {}
    for root in paths:
        files = [root] if root.is_file() else [
            f for f in _workload_files(root) if not is_failures_file(f)]
        for path in files:
            for _, rec in iter_jsonl(path, strict=False):
                w = rec.get("workload")
                if isinstance(w, dict) and rec.get("run_id"):
                    out[str(rec["run_id"])] = w
    return out


def _spread(indices: list[int], k: int, seed: int) -> list[int]:
    if len(indices) <= k:
        return list(indices)
    return sorted(random.Random(seed).sample(indices, k))


def build_plan(paths: list[Path], *, top: int = 8, sample: int = 40, seed: int = 0,
               max_best_ms: float | None = None) -> dict[str, Any]:
    """The replay plan for every collected workload under ``paths`` (see the module docstring);
    with ``max_best_ms``, only workloads whose fastest ok config ran at most that long (the
    short kernels, whose launch-timed labels are the noisy ones)."""
    from ..logs import load_logs

    if top < 0 or sample < 0:
        raise ValueError(f"--top and --sample must be >= 0, got {top} and {sample}")
    if max_best_ms is not None and not max_best_ms > 0:
        raise ValueError(f"--max-best-ms must be > 0 (milliseconds), got {max_best_ms}")
    sections = facts_workloads(paths)
    logset = load_logs(paths)
    workloads = []
    hardware: set[str] = set()
    for w in logset.workloads:
        section = sections.get(w.run_id)
        if section is None:
            continue  # not written by the collector (e.g. a user's own log): no suite identity
        ok = sorted((m.perf_ms, i) for i, m in enumerate(w.measurements)
                    if m.status == "ok" and m.perf_ms is not None)
        if max_best_ms is not None and (not ok or ok[0][0] > max_best_ms):
            continue
        best = [i for _, i in ok[:top]]
        taken = set(best)
        rest = [i for i in range(len(w.measurements)) if i not in taken]
        chosen = best + _spread(rest, sample, seed)
        hardware.add(w.hardware)
        workloads.append({
            "family": str(section["family"]), "shape": [int(s) for s in section["shape"]],
            "dtype": str(section["dtype"]), "backend": str(section.get("backend", "triton")),
            "source_run_id": w.run_id, "source_hardware": w.hardware,
            "configs": [w.measurements[i].config for i in chosen],
            "source_config_ids": [w.measurements[i].config_id for i in chosen],
            "top": len(best),
        })
    workloads.sort(key=lambda d: (d["family"], d["shape"]))
    return {"schema": REPLAY_SCHEMA, "source_hardware": sorted(hardware), "top": top,
            "sample": sample, "seed": seed, "max_best_ms": max_best_ms, "workloads": workloads}


def load_plan(path: str | Path) -> dict[Key, list[dict[str, Any]]]:
    """``(family, shape, dtype, backend) -> configs`` of a replay plan, in the file's order."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            plan = json.load(f)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable replay plan ({e}). Fix: regenerate it with "
                         "`python -m helion_learned.training.collect.replay LOGS -o FILE`") from e
    if not isinstance(plan, dict) or plan.get("schema") != REPLAY_SCHEMA:
        got = plan.get("schema") if isinstance(plan, dict) else type(plan).__name__
        raise ValueError(f"{path}: replay plan schema {got!r}, expected {REPLAY_SCHEMA}. Fix: "
                         "regenerate it with `python -m helion_learned.training.collect.replay`")
    out: dict[Key, list[dict[str, Any]]] = {}
    for i, w in enumerate(plan.get("workloads") or []):
        try:
            key = (str(w["family"]), tuple(int(s) for s in w["shape"]), str(w["dtype"]),
                   str(w.get("backend", "triton")))
            out[key] = [dict(c) for c in w["configs"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: workload #{i} is malformed ({type(e).__name__}: {e}); "
                             "expected family, shape, dtype, configs") from e
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m helion_learned.training.collect.replay",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("logs", nargs="+", type=Path, help="collected logs (files or folders)")
    p.add_argument("-o", "--out", type=Path, required=True, help="replay plan (JSON) to write")
    p.add_argument("--top", type=int, default=8, help="fastest source configs kept (default 8)")
    p.add_argument("--sample", type=int, default=40,
                   help="other source configs kept, spread over the rest (default 40)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-best-ms", type=float, default=None,
                   help="only workloads whose fastest ok config took at most this many ms "
                        "(e.g. 0.015: the short kernels)")
    args = p.parse_args(argv)
    try:
        plan = build_plan(args.logs, top=args.top, sample=args.sample, seed=args.seed,
                          max_best_ms=args.max_best_ms)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(plan) + "\n"
    if args.out.suffix == ".gz":  # mtime 0: the same plan gives the same bytes
        args.out.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        args.out.write_text(text, encoding="utf-8")
    n = len(plan["workloads"])
    configs = sum(len(w["configs"]) for w in plan["workloads"])
    print(f"{args.out}: {n} workloads, {configs} configs from {plan['source_hardware']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
