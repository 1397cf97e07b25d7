"""Several collector processes on one GPU, but only one of them timing at a time.

Why: a workload spends most of its wall clock in Helion's per-config code generation, which runs
serially on the CPU (``BoundKernel.compile_config`` in the compile phase of
``LocalBenchmarkProvider.benchmark``); the GPU is busy only in the benchmark loop (~15 % of the
time on H100). ``--procs-per-device K`` runs K processes per GPU so their code generation overlaps,
and this module makes every GPU measurement hold an exclusive ``flock`` on a per-GPU lock file:
the accuracy check, warm-up and ``do_bench`` of one config never overlap another process's.

The lock is taken per config in ``LocalBenchmarkProvider._benchmark_function`` (Helion's single
place that runs a candidate on the device), around our drift-control measurement and around
input creation. The file is opened afresh for each turn, so a forked precompile child never
inherits a held lock, and the kernel releases it if the holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import time
from collections.abc import Iterator
from typing import Any

LOCK_ENV = "HELION_LEARNED_GPU_LOCK"  # set by the --devices parent when K > 1

# Seconds this process waited for / held the lock since the last reset (recorded per workload).
_stats = {"wait_s": 0.0, "held_s": 0.0, "turns": 0}


@contextlib.contextmanager
def gpu_turn() -> Iterator[None]:
    """Hold this GPU's lock for the block (a no-op when no lock file is configured)."""
    path = os.environ.get(LOCK_ENV)
    if not path:
        yield
        return
    t0 = time.perf_counter()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        t1 = time.perf_counter()
        try:
            yield
        finally:
            _stats["wait_s"] += t1 - t0
            _stats["held_s"] += time.perf_counter() - t1
            _stats["turns"] += 1
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def take_stats() -> dict[str, float]:
    """Lock statistics since the last call (rounded), then reset."""
    out = {"gpu_lock_wait_s": round(_stats["wait_s"], 2),
           "gpu_lock_held_s": round(_stats["held_s"], 2), "gpu_lock_turns": int(_stats["turns"])}
    _stats.update(wait_s=0.0, held_s=0.0, turns=0)
    return out


def install() -> bool:
    """Route Helion's per-config device work through :func:`gpu_turn`. Idempotent; returns
    whether a lock is configured in this process."""
    if not os.environ.get(LOCK_ENV):
        return False
    from helion.autotuner.benchmark_provider import LocalBenchmarkProvider

    original = LocalBenchmarkProvider._benchmark_function
    if getattr(original, "_helion_learned_locked", False):
        return True

    @functools.wraps(original)
    def locked(self: Any, *args: Any, **kwargs: Any) -> float:
        with gpu_turn():
            return original(self, *args, **kwargs)

    locked._helion_learned_locked = True  # type: ignore[attr-defined]
    LocalBenchmarkProvider._benchmark_function = locked  # type: ignore[method-assign]
    return True
