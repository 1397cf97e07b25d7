"""The collector's options, constants and small shared helpers (environment, hardware, plan)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from . import plan as cp

COLLECTOR_VERSION = 1
RESTART_EXIT_CODE = 75  # a child stopped on a fatal device error: the parent restarts it
MARGIN_S = 10.0  # Helion's search budget ends this long before the deadline
# --devices: a child still running this long after the deadline is killed (its running workload
# rolled back). Keeps the parent's own end well inside --time-budget-s + 30 s.
GRACE_S = 15.0
# Start another workload only while the time left exceeds the 75th percentile of this shard's
# workload durations so far, and at least this much (also the estimate before any has run).
MIN_ESTIMATE_S = {"gpu": 20.0, "cpu": 2.0}
ESTIMATE_QUANTILE = 0.75
CONTROL = {  # fixed drift-control workload: (family, shape, partial config or None=default)
    "gpu": ("matmul_fp16", (4096, 4096, 4096),
            {"block_sizes": [128, 128, 64], "num_warps": 8, "num_stages": 3}),
    "cpu": ("add_fp32", (8, 32), None),
}
# Test hook, honored only in --devices children: "crash:<family>" exits hard and "hang:<family>"
# sleeps on that family, to exercise the parent's restart and watchdog without a broken GPU.
FAULT_ENV = "HELION_LEARNED_COLLECT_FAULT"


@dataclasses.dataclass
class Options:
    out: Path
    families: list[str] | None = None
    max_workloads: int | None = None
    time_budget_s: float = 480.0
    devices: list[int] | None = None
    n_random: int = 64
    n_grid: int = 64
    autotune_subset: int = 0
    autotune_budget_s: float = 120.0
    autotune_effort: str = "quick"  # Helion effort profile of the real autotune: quick | full
    tiny: bool = False
    cpu_interpret: bool = False
    control_every: int = 10
    target: str = "sm90"
    resume_from: list[Path] = dataclasses.field(default_factory=list)
    retry_failed: bool = False
    seed: int = 0
    precompile: str = "fork"  # Helion autotune_precompile: fork | spawn | none
    precompile_jobs: int | None = None
    benchmark_subprocess: bool = False  # in-process is faster; the --devices watchdog covers hangs
    workload_timeout_s: float = 300.0
    backend: str = "triton"  # Helion backend: triton | cute (cute needs nvidia-cutlass-dsl)
    procs_per_device: int = 1  # >1: that many children per GPU, timings serialized by a lock
    # (family glob, cap): skip shapes whose dims multiply past cap (∝ a matmul's FLOPs). Cute
    # matmuls of 4096×11008×4096 ran one config for over 300 s on the H200 (scalar paths).
    max_shape_product: list[tuple[str, float]] = dataclasses.field(default_factory=list)
    replay: Path | None = None  # replay plan: only its workloads, plus its configs (collect.replay)
    timing: str = "launch"  # launch: Helion's default do_bench; cudagraph: CUDA-graph replay


# How Helion 1.5 times a config: ``launch`` (its default do_bench, host launches included) or
# ``cudagraph`` (HELION_BENCHMARK_CUDAGRAPH=1: replays of a captured graph, device time only).
# A kernel under ~15 us is launch-bound under ``launch``, and its winner then changes from run to
# run (data/README.md, "Timing protocol"); the graph replay reproduces.
TIMING_MODES = ("launch", "cudagraph")


def measure_env(opts: Options) -> dict[str, str]:
    """The environment every measurement runs under. The timing mode is always set explicitly,
    so a HELION_BENCHMARK_CUDAGRAPH inherited from the user's shell cannot change it silently."""
    if opts.timing not in TIMING_MODES:
        raise ValueError(f"timing {opts.timing!r}: expected one of {', '.join(TIMING_MODES)}")
    return {"HELION_SKIP_CACHE": "1",  # measure every config: never answer from a cache
            "HELION_BENCHMARK_CUDAGRAPH": "1" if opts.timing == "cudagraph" else "0"}


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hardware_name(opts: Options, device_index: int | None) -> str:
    """Helion's hardware string, as in its run_id ("" on CPU, "NVIDIA H100" on any H100)."""
    if opts.cpu_interpret:
        return ""
    import torch
    from helion._compat import get_device_name

    index = torch.cuda.current_device() if device_index is None else device_index
    return get_device_name(torch.device("cuda", index)) or ""


def read_done(opts: Options) -> set[str]:
    return cp.read_done([opts.out, *opts.resume_from], include_failures=not opts.retry_failed)


def plan_items(opts: Options, hardware: str) -> tuple[list[cp.WorkItem], int]:
    """Pending work items of this call (suite x shapes minus done), and how many were done."""
    from ..suite.interpret import cpu_dtype
    from ..suite.registry import SUITE
    from ..suite.registry import workloads

    families = cp.select_families(SUITE, opts.families)
    pairs = [(sk.family, shape) for sk, shape in workloads(families, tiny=opts.tiny)]
    if opts.max_shape_product:
        pairs = [p for p in pairs if not cp.over_size_cap(p, opts.max_shape_product)]
    if opts.replay is not None:  # only the plan's workloads (of the selected families)
        from .replay import load_plan

        planned = {(k[0], k[1]) for k in load_plan(opts.replay) if k[3] == opts.backend}
        pairs = [p for p in pairs if p in planned]

    def dtype_of(family: str) -> str:
        dtype = SUITE[family].dtype
        return str(cpu_dtype(dtype) if opts.cpu_interpret else dtype)

    return cp.plan(pairs, dtype_of=dtype_of, hardware=hardware, done=read_done(opts),
                   max_workloads=opts.max_workloads, autotune_subset=opts.autotune_subset,
                   seed=opts.seed, backend=opts.backend)
