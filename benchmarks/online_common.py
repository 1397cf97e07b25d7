"""Shared pieces of the online validation runner (``benchmarks/online_validation.py``): options,
run identity, fresh kernels, the side-by-side timing protocol and Helion log parsing.

Nothing here imports torch/triton/helion at module level: the runner must set TRITON_INTERPRET
(CPU mode) before triton is first imported.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RUNNER_VERSION = 1
TIMING_ROUNDS = 3  # interleaved rounds per config; the per-config median of the rounds is kept


@dataclasses.dataclass
class Opts:
    out: Path
    cpu: bool = False
    families: list[str] | None = None
    shapes_per_family: int = 1
    search_families: list[str] = dataclasses.field(default_factory=list)
    search_seeds: int = 2
    autotune_budget_s: float = 45.0
    search_budget_s: float = 60.0
    top_k: int = 4
    seeded_arm: str = "install"  # or "prior": LearnedPriorLFBOTreeSearch as the seeded arm
    max_generations: int | None = None
    precompile_jobs: int | None = None
    overhead_repeats: int = 5
    retry_failed: bool = False

    @property
    def target(self) -> str | None:
        # On a GPU the live device is the target (None); on CPU there is none, so name one.
        return "sm90" if self.cpu else None


def slug(key: str) -> str:
    """A file-name-safe form of an item key (for its Helion log base)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key)


def config_dict(config: Any) -> dict[str, Any]:
    """A Helion Config (or its dict) with builtin types only (seeds must be plain ints)."""
    from helion_learned.features.config import plain_config

    return plain_config(dict(getattr(config, "config", config)))


# -- run identity (on every line) ---------------------------------------------------------------
def bundle_path() -> Path:
    from helion_learned.models.bundle import shipped_bundles

    paths = [p for p in shipped_bundles("triton") if p.name == "cuda_sm90"] or shipped_bundles(
        "triton")
    if not paths:
        raise RuntimeError("no shipped triton model bundle found")
    return paths[0]


def run_identity(opts: Opts) -> dict[str, Any]:
    from importlib.metadata import version

    import torch
    import triton

    path = bundle_path()
    meta = json.loads((path / "metadata.json").read_text())
    if opts.cpu:
        device = "CPU (TRITON_INTERPRET=1, predicting for sm90)"
    else:
        device = torch.cuda.get_device_name()
    return {
        "device": device, "mode": "cpu-interpret" if opts.cpu else "gpu",
        "versions": {"torch": torch.__version__, "triton": triton.__version__,
                     "helion": version("helion"),
                     "runner": RUNNER_VERSION},
        "bundle": {"path": str(path), "fingerprint": (meta.get("training_data") or {}).get(
            "fingerprint"), "threshold": meta.get("threshold"), "created": meta.get("created"),
            "model_sha256": (meta.get("checksums") or {}).get("model.ubj"),
            "metadata_sha256": hashlib.sha256((path / "metadata.json").read_bytes()).hexdigest()},
    }


# -- kernels and arguments ----------------------------------------------------------------------
def fresh_kernel(sk: Any, opts: Opts, *, seed: int, log_base: Path | None = None,
                 budget_s: float | None = None) -> Any:
    """A new Helion kernel object for ``sk`` (heuristics run at bind time, so every variant needs
    its own), with the collector's settings (collect.worker.Worker._kernel)."""
    import helion

    settings = sk.kernel.settings.to_dict()
    settings.update(
        autotune_ignore_errors=True, autotune_accuracy_check=True,
        autotune_random_seed=int(seed), autotune_progress_bar=False, autotune_effort="quick",
        disable_autotuner_heuristics=False, autotune_benchmark_subprocess=False,
        autotune_precompile=None if opts.cpu else "fork",
    )
    if opts.precompile_jobs and not opts.cpu:
        settings["autotune_precompile_jobs"] = int(opts.precompile_jobs)
    if opts.cpu:  # persistent pids need an SM count (as the collector's CPU mode)
        settings["autotune_config_overrides"] = {"pid_type": "flat"}
    if opts.max_generations is not None:
        settings["autotune_max_generations"] = int(opts.max_generations)
    if budget_s is not None:
        settings["autotune_budget_seconds"] = float(budget_s)
    if log_base is not None:
        settings.update(autotune_log=str(log_base), autotune_log_details=True)
    return helion.kernel(sk.kernel.fn, **settings)


def item_shape(sk: Any, opts: Opts, index: int) -> tuple[int, ...]:
    shapes = sk.tiny_shapes if opts.cpu else sk.online_shapes
    return tuple(int(s) for s in shapes[min(index, len(shapes) - 1)])


def make_args(sk: Any, shape: tuple[int, ...], opts: Opts) -> tuple:
    import torch

    from helion_learned.training.suite.interpret import cpu_dtype

    torch.manual_seed(0)
    dtype = cpu_dtype(sk.dtype) if opts.cpu else sk.dtype  # interpreter bf16 math is broken
    return sk.make_args(shape, dtype, "cpu" if opts.cpu else "cuda")


@contextlib.contextmanager
def cold_compile_caches() -> Iterator[None]:
    """Compile from scratch, as a fresh process would: otherwise the second search arm would
    reuse the first arm's kernels. A new Triton cache directory (Helion's
    ``setup_compile_cache_dir`` keeps a user's TRITON_CACHE_DIR; precompile forks inherit it)
    and an empty in-memory ``PyCodeCache`` (``BoundKernel.compile_config`` loads generated code
    through it, keyed by source text, so equal configs would share already-compiled kernels)."""
    from torch._inductor.codecache import PyCodeCache

    saved = os.environ.get("TRITON_CACHE_DIR")
    tmp = tempfile.mkdtemp(prefix="online_triton_cache_")
    os.environ["TRITON_CACHE_DIR"] = tmp
    PyCodeCache.cache_clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TRITON_CACHE_DIR", None)
        else:
            os.environ["TRITON_CACHE_DIR"] = saved
        shutil.rmtree(tmp, ignore_errors=True)


# -- the side-by-side timing protocol -----------------------------------------------------------
def time_configs(bound: Any, args: tuple, sk: Any, configs: dict[str, Any], opts: Opts
                 ) -> dict[str, dict[str, Any]]:
    """Compile every config on one bound kernel, check it against the torch reference, then time
    the correct ones interleaved over TIMING_ROUNDS rounds (median per round, median of rounds).

    Returns ``{config_id: {"status": ok|wrong_result|error, "ms": float|None, ...}}``; a wrong or
    failing config is never timed.
    """
    import torch
    from helion.autotuner import benchmarking

    out: dict[str, dict[str, Any]] = {}
    fns: dict[str, Any] = {}
    expected = sk.reference(*args)
    for cid, config in configs.items():
        t0 = time.perf_counter()
        try:
            fn = bound.compile_config(config, allow_print=False)
            got = fn(*args)
            torch.testing.assert_close(got, expected, rtol=sk.rtol, atol=sk.atol)
        except AssertionError as e:
            out[cid] = {"status": "wrong_result", "ms": None, "error": str(e)[:300]}
            continue
        except Exception as e:
            out[cid] = {"status": "error", "ms": None, "error": f"{type(e).__name__}: {e}"[:300]}
            continue
        fns[cid] = fn
        out[cid] = {"status": "ok", "compile_check_s": round(time.perf_counter() - t0, 2)}
    if opts.cpu:  # interpreter timings mean nothing; keep them short
        def bench(f: Any) -> float:
            return float(benchmarking.do_bench_generic(f, warmup=1, rep=5, fixed_repetitions=3,
                                                       return_mode="median"))
    else:
        def bench(f: Any) -> float:
            return float(benchmarking.do_bench(f, warmup=25, rep=100, return_mode="median"))
    samples: dict[str, list[float]] = {cid: [] for cid in fns}
    for _ in range(TIMING_ROUNDS):
        for cid, fn in fns.items():  # interleaved: drift hits every config alike
            try:
                samples[cid].append(bench(lambda fn=fn: fn(*args)))
            except Exception as e:
                out[cid].update(status="error", error=f"{type(e).__name__}: {e}"[:300])
    for cid, ms in samples.items():
        if out[cid]["status"] == "ok" and ms:
            out[cid].update(ms=statistics.median(ms), rounds_ms=ms)
        else:
            out[cid]["ms"] = None
    return out


# -- Helion's autotune log ----------------------------------------------------------------------
def clear_log(base: Path) -> None:
    """A redone item must not append to a killed run's half-written log."""
    for path in base.parent.glob(base.name + ".*"):
        path.unlink()


def config_from_log(base: Path, config_id: str | None) -> dict[str, Any] | None:
    """The config Helion logged under ``config_id``: its ``.meta.jsonl`` configs map (written
    with autotune_log_details), else the CSV's config repr."""
    if not config_id:
        return None
    meta = base.with_suffix(".meta.jsonl")
    if meta.exists():
        for line in reversed(meta.read_text().splitlines()):
            configs = json.loads(line).get("configs") or {}
            if config_id in configs:
                return config_dict(configs[config_id])
    from helion_learned.training.logs.parsing import parse_config_repr

    for row in _csv_rows(base):
        if row.get("config_id") == config_id and row.get("config"):
            return config_dict(parse_config_repr(row["config"]))
    return None


def _csv_rows(base: Path) -> list[dict[str, str]]:
    path = base.with_suffix(".csv")
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def trajectory(base: Path) -> list[list[float]]:
    """Best-so-far of a logged search: ``[[t_s, configs_evaluated, best_ms], ...]``, one point
    per improvement plus the last result.

    ``t_s`` is Helion's CSV ``timestamp_s``: seconds since the log sink's ``start_run()``
    (``AutotuneLogSink.record``: ``entry.completed_at`` or now, minus ``_run_start_time``, a
    ``perf_counter`` taken when ``BaseSearch._autotune_with_logging`` enters
    ``autotune_logging``, right after ``_prepare()``), so both arms share one origin.
    ``configs_evaluated`` counts distinct config ids with a result row (``started`` and
    ``deduplicated`` rows are not new evaluations). The CSV holds the benchmark provider's
    screening results only; re-benchmarks and final verification go to the ``.trace.jsonl``.
    """
    rows = [r for r in _csv_rows(base) if r.get("status") not in ("started", "", None)]
    rows.sort(key=lambda r: float(r.get("timestamp_s") or 0.0))  # stable: ties keep log order
    seen: set[str] = set()
    best = math.inf
    points: list[list[float]] = []
    for r in rows:
        if r["status"] != "deduplicated":
            seen.add(r["config_id"])
        perf = float(r["perf_ms"]) if r["status"] == "ok" and r.get("perf_ms") else math.inf
        t = float(r.get("timestamp_s") or 0.0)
        if perf < best:
            best = perf
            points.append([t, len(seen), best])
    if rows and points:
        last_t = float(rows[-1].get("timestamp_s") or 0.0)
        if points[-1][:2] != [last_t, len(seen)]:
            points.append([last_t, len(seen), best])
    return points


def reach(points: list[list[float]], threshold_ms: float) -> tuple[float, int] | None:
    """(seconds, configs evaluated) when the best-so-far first got to ``threshold_ms`` or below."""
    for t, n, best in points:
        if best <= threshold_ms:
            return t, int(n)
    return None
