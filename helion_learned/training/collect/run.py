"""Benchmark the kernel suite into Helion-native autotune logs plus our facts sidecar.

    python -m helion_learned.training.collect --out DIR [--families F ...] [--max-workloads N]
        [--time-budget-s S] [--devices 0,1,...] [--random N] [--grid N] [--autotune-subset K]
        [--tiny] [--cpu-interpret] [--resume-from DIR ...] [--replay PLAN.json]

Per workload (suite family x shape) it binds a fresh copy of the kernel, measures a config list
(Helion's fragment defaults and effective default, every seed of Helion's own heuristics, random
configs, a sample of our structured grid) with Helion's ``FiniteSearch`` under Helion's own
logging (``<base>.csv`` + ``<base>.meta.jsonl``), then appends ``<base>.facts.jsonl`` (KernelFacts,
HardwareFacts and a ``workload`` section) and ``<base>.origins.jsonl``. A deterministic subset
also gets a real Helion autotune (``--autotune-effort``, quick by default) under the same log
base. Output bases are ``<out>/shard<i>_<host>_<pid>``: concurrent writers never share a file.

``--devices`` runs one child process per GPU (``CUDA_VISIBLE_DEVICES`` set per child; with
``--procs-per-device K`` K of them per GPU, their timings serialized by a lock) under a watchdog:
a child that hangs or dies (a fatal CUDA error poisons its context) is restarted and its workload
recorded in ``failures.jsonl``. Resumable: done and failed workloads are skipped; a
workload that fails or is cut by the deadline leaves no rows behind and is collected again later.

Modules: this one (command line, :func:`collect`), :mod:`.options` (options, constants),
:mod:`.plan` (workloads, resume, sharding), :mod:`.worker` (one shard's loop),
:mod:`.configs` (the config list), :mod:`.measure` (Helion's searches),
:mod:`.files` (output files, rollback), :mod:`.shards` (``--devices``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import plan as cp
from .options import FAULT_ENV
from .options import TIMING_MODES
from .options import Options
from .options import env
from .options import hardware_name
from .options import measure_env
from .options import plan_items

__all__ = ["FAULT_ENV", "Options", "build_parser", "collect", "main"]


def collect(out_dir: str | os.PathLike[str], **kwargs: Any) -> dict[str, Any]:
    """Run the collector (see the module docstring); returns the summary it also prints."""
    start = time.time()
    opts = Options(out=Path(out_dir), **kwargs)
    opts.resume_from = [Path(p) for p in opts.resume_from]
    if opts.cpu_interpret:  # with --devices: N CPU children (tests the multi-GPU machinery)
        os.environ["TRITON_INTERPRET"] = "1"
        opts.tiny, opts.autotune_subset = True, 0
    opts.out.mkdir(parents=True, exist_ok=True)
    from .files import repair_orphans

    repaired = repair_orphans(opts.out)  # rows a killed earlier run left uncommitted
    if repaired:
        print(f"[collect] removed uncommitted rows of killed runs: {repaired}", flush=True)
    deadline = start + opts.time_budget_s
    with env(**measure_env(opts)):
        if opts.devices:
            from .shards import run_children

            summary = run_children(opts, deadline)
        else:
            from .worker import Worker

            items, skipped = plan_items(opts, hardware_name(opts, None))
            summary = Worker(opts, 0, deadline).run(items)
            summary["skipped_done"] = skipped
    print(json.dumps(summary, sort_keys=True), flush=True)
    return summary


# -- command line -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helion_learned.training.collect",
                                description="Benchmark the kernel suite into Helion logs.")
    p.add_argument("--out", required=True, type=Path, help="output folder (appended to)")
    p.add_argument("--families", nargs="+", help="suite families or globs (default: all)")
    p.add_argument("--max-workloads", type=int, help="cap on new workloads this call")
    p.add_argument("--time-budget-s", type=float, default=480.0,
                   help="stop cleanly before this many seconds (default 480): a workload still "
                        "running then is cut and redone by a later call; with --devices the "
                        "parent ends at most ~16 s after it")
    p.add_argument("--devices", help="GPU indices, e.g. 0,1,2,3: one child process per GPU")
    p.add_argument("--random", dest="n_random", type=int,
                   help="random configs per workload (default 64; 3 with --cpu-interpret)")
    p.add_argument("--grid", dest="n_grid", type=int,
                   help="structured-grid configs per workload (default 64; 3 with --cpu-interpret)")
    p.add_argument("--autotune-subset", type=int, default=0,
                   help="workloads that also get a real Helion autotune (--autotune-effort)")
    p.add_argument("--autotune-budget-s", type=float, default=120.0,
                   help="time cap of each real autotune (default 120)")
    p.add_argument("--autotune-effort", choices=("quick", "full"), default="quick",
                   help="Helion effort profile of the real autotune (default quick); a search "
                        "cut by --autotune-budget-s records budget_hit")
    p.add_argument("--tiny", action="store_true", help="tiny shapes (smoke test)")
    p.add_argument("--cpu-interpret", action="store_true",
                   help="CPU test mode: TRITON_INTERPRET=1, tiny shapes, no autotune subset")
    p.add_argument("--control-every", type=int, default=10,
                   help="re-measure the control workload every N workloads (0: never)")
    p.add_argument("--target", default="sm90", help="HardwareFacts preset on CPU (default sm90)")
    p.add_argument("--resume-from", nargs="*", type=Path, default=[],
                   help="more folders whose collected/failed workloads are skipped")
    p.add_argument("--retry-failed", action="store_true", help="retry workloads in failures.jsonl")
    p.add_argument("--seed", type=int, default=0, help="base seed (configs, data, order)")
    p.add_argument("--precompile", choices=("fork", "spawn", "none"), default="fork",
                   help="Helion autotune_precompile mode (default fork)")
    p.add_argument("--precompile-jobs", type=int, help="parallel compile jobs per GPU")
    p.add_argument("--benchmark-subprocess", action="store_true",
                   help="benchmark in Helion's isolated worker (slower, survives crashes)")
    p.add_argument("--backend", choices=("triton", "cute"), default="triton",
                   help="Helion backend to compile with (cute needs nvidia-cutlass-dsl 4.7.0)")
    p.add_argument("--procs-per-device", type=int, default=1,
                   help="with --devices: processes per GPU (default 1). Helion's code generation "
                        "is serial CPU work, so 3-4 per GPU overlap it while a per-GPU lock keeps "
                        "their timings from overlapping")
    p.add_argument("--replay", type=Path,
                   help="replay plan (python -m helion_learned.training.collect.replay): collect "
                        "only its workloads and also measure its configs (hardware transfer)")
    p.add_argument("--max-shape-product", action="append", default=[], metavar="GLOB=PRODUCT",
                   type=cp.parse_size_cap,
                   help="skip shapes of families matching GLOB whose dims multiply past PRODUCT "
                        "(repeatable), e.g. '*matmul*=5e9'")
    p.add_argument("--workload-timeout-s", type=float, default=300.0,
                   help="with --devices: restart a child stuck this long on one workload (keep "
                        "it above Helion's 60 s compile timeout, or a slow config kills the child)")
    p.add_argument("--timing", choices=TIMING_MODES, default="launch",
                   help="how Helion times each config: launch (its default do_bench, what its "
                        "autotuner measures) or cudagraph (CUDA-graph replay: device time only; "
                        "reproducible for kernels under ~15 us, see data/README.md). Recorded in "
                        "each workload's facts record")
    # Internal: a child process of --devices.
    p.add_argument("--_worker-plan", dest="worker_plan", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--_shard-index", dest="shard_index", type=int, default=0,
                   help=argparse.SUPPRESS)
    p.add_argument("--_deadline", dest="deadline", type=float, help=argparse.SUPPRESS)
    p.add_argument("--_state-dir", dest="state_dir", type=Path, help=argparse.SUPPRESS)
    return p


def options_from_args(ns: argparse.Namespace) -> Options:
    default_n = 3 if ns.cpu_interpret else 64
    return Options(
        out=ns.out, families=ns.families, max_workloads=ns.max_workloads,
        time_budget_s=ns.time_budget_s,
        devices=[int(d) for d in ns.devices.split(",") if d.strip()] if ns.devices else None,
        n_random=default_n if ns.n_random is None else ns.n_random,
        n_grid=default_n if ns.n_grid is None else ns.n_grid,
        autotune_subset=ns.autotune_subset, autotune_budget_s=ns.autotune_budget_s,
        autotune_effort=ns.autotune_effort,
        tiny=ns.tiny, cpu_interpret=ns.cpu_interpret, control_every=ns.control_every,
        target=ns.target, resume_from=list(ns.resume_from), retry_failed=ns.retry_failed,
        seed=ns.seed, precompile=ns.precompile, precompile_jobs=ns.precompile_jobs,
        benchmark_subprocess=ns.benchmark_subprocess, workload_timeout_s=ns.workload_timeout_s,
        procs_per_device=ns.procs_per_device, backend=ns.backend, replay=ns.replay,
        max_shape_product=list(ns.max_shape_product), timing=ns.timing,
    )


def main(argv: list[str] | None = None) -> int:
    if argv and argv[0] == "--":  # `helion-learned collect -- --out ...` passes the separator on
        argv = argv[1:]
    ns = build_parser().parse_args(argv)
    if ns.cpu_interpret:
        os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported anywhere
    opts = options_from_args(ns)
    if ns.worker_plan is not None:
        from .shards import run_child

        return run_child(opts, ns.worker_plan, ns.shard_index, ns.deadline, ns.state_dir)
    kwargs = dataclasses.asdict(opts)
    summary = collect(kwargs.pop("out"), **kwargs)
    return 1 if summary.get("fatal") else 0


if __name__ == "__main__":  # Helion spawns workers: keep all work under this guard
    sys.exit(main())
