"""Scale test: ingest + train on a SYNTHETIC Helion-format log of N rows (default 1,000,000).

    python benchmarks/scale_ingest_train.py --bases 10          # -> reports/scale/scale_1m.json
    python benchmarks/scale_ingest_train.py --bases 10 --reuse --train external \
        --out reports/scale/scale_1m_external.json               # the --external-memory path

1. **Generate** (in a child process, not timed): ``<data-dir>/synthetic[-KK].csv``,
   ``.meta.jsonl`` and ``.facts.jsonl`` (``--gzip``: ``.gz``; ``--bases K``: K log bases) in
   Helion's exact formats. The kernel facts are REAL: they come from binding a few suite kernels
   on CPU (``TRITON_INTERPRET=1``); their shapes and size hints are then varied (and the hardware
   rotated over H100/H200/A100/B200) to make many distinct workloads (8,000 × 125 configs at 1M
   rows). Configs are Helion's full default config of the kernel with block sizes / warps /
   stages / pid type / L2 grouping / reduction loop from our structured grid plus random draws.
   **The timings are SYNTHETIC**: a made-up smooth function of the config (each workload prefers
   a tile, warps and stages that depend on its size and GPU) times log-normal noise; ~14 % of
   configs fail (``error``/``timeout`` rows: tiles too big for the GPU, plus 1 % at random).
   Every measurement writes a ``started`` row before its result row, as Helion does, so the CSV
   has ~2N lines; ``--rows`` counts result rows (= training rows).
2. **Measure** the library's own pipeline, stage by stage: ``load_logs`` → ``build_dataset`` →
   training (``--train full``: ``train_bundle(n_jobs=2)``, i.e. 5-fold leave-shape-out CV +
   calibration + the final model; ``final``: the final ``CostModel`` only; ``external``:
   ``train_bundle_external``, one stage that reads, featurises and trains out of core). Per stage:
   wall time, the process's peak RSS during the stage (VmHWM, reset between stages through
   ``/proc/self/clear_refs``), the peak total RSS of the process *plus its children* (the joblib
   CV workers) sampled every 0.2 s, and the 1-minute load average before/after (the machine may
   be shared). ``--tracemalloc`` adds Python-heap peaks (slower).

Prints one JSON object and writes it to ``--out``. Needs Linux (``/proc``) for the memory figures.
Step 1 lives in ``scale_synthetic.py`` beside this file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TRITON_INTERPRET", "1")  # kernels bind on CPU for their facts

from scale_synthetic import BASE_FAMILIES
from scale_synthetic import CONFIGS_PER_WORKLOAD
from scale_synthetic import SYNTHETIC_NOTE
from scale_synthetic import generate

from helion_learned.training.collect.shards import descendants  # every thread's children

# -- measurement ---------------------------------------------------------------------------------


def _status_kb(pid: int | str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _TreeSampler:
    """Peak of (this process + all descendants) RSS, sampled in a background thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak_kb = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        total = _status_kb(me, "VmRSS") + sum(_status_kb(p, "VmRSS") for p in descendants(me))
        self.peak_kb = max(self.peak_kb, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> _TreeSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


@contextlib.contextmanager
def _stage(results: dict[str, Any], name: str, trace: bool) -> Iterator[None]:
    import gc
    import tracemalloc

    gc.collect()
    _reset_peak_rss()
    rss_before = _status_kb("self", "VmRSS")
    if trace:
        tracemalloc.start()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with _TreeSampler() as sampler:
        yield
    seconds = time.perf_counter() - start
    entry = {"seconds": round(seconds, 2),
             "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
             "rss_before_mb": round(rss_before / 1024),
             "peak_rss_mb": round(_status_kb("self", "VmHWM") / 1024),
             "peak_rss_with_children_mb": round(sampler.peak_kb / 1024)}
    if trace:
        entry["python_heap_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    results[name] = entry
    print(f"[scale] {name}: {json.dumps(entry)}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir)
    result: dict[str, Any] = {"note": SYNTHETIC_NOTE, "rows_requested": args.rows}
    meta_path = data_dir / "generation.json"
    if not (args.reuse and meta_path.is_file()):
        # In a child process: the measured process then never imports torch/helion (binding
        # kernels for their facts), so its memory figures are the pipeline's own.
        cmd = [sys.executable, os.path.abspath(__file__), "--generate-only", *sys_argv(args)]
        subprocess.run(cmd, check=True)
    gen = json.loads(meta_path.read_text())
    result["generation"] = gen
    print(f"[scale] generated: {json.dumps(gen)}", file=sys.stderr, flush=True)
    stages: dict[str, Any] = {}
    result["stages"] = stages
    if args.train == "external":
        _run_external(args, gen, stages, result)
    else:
        _run_in_memory(args, gen, stages, result)
    total = sum(s["seconds"] for s in stages.values())
    result["total_seconds"] = round(total, 2)
    result["peak_rss_mb"] = max(s["peak_rss_mb"] for s in stages.values())
    result["peak_rss_with_children_mb"] = max(s["peak_rss_with_children_mb"]
                                              for s in stages.values())
    result["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["ru_maxrss_children_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    result["machine"] = {"cpus": os.cpu_count(), "mem_total_gb": round(
        _status_kb_meminfo("MemTotal") / 2**20, 1), "python": platform.python_version(),
        "platform": platform.platform()}
    result["versions"] = _versions()
    return result


class _Marks:
    """Seconds since the stage started at each train_bundle progress event."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.marks: dict[str, float] = {}

    def start(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, what: str, done: int, total: int) -> None:
        self.marks[f"{what} {done}/{total}"] = round(time.perf_counter() - self.t0, 2)


def _run_in_memory(args: argparse.Namespace, gen: dict[str, Any], stages: dict[str, Any],
                   result: dict[str, Any]) -> None:
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs
    from helion_learned.training.train import train_bundle

    with _stage(stages, "load_logs", args.tracemalloc):
        logset = load_logs(gen["files"])
    result["workloads_loaded"] = len(logset.workloads)
    with _stage(stages, "build_dataset", args.tracemalloc):
        ds = build_dataset(logset)
    result["dataset"] = {"workloads": len(ds.groups), "rows": len(ds.y),
                         "features": len(ds.feature_names), "X_mb": round(ds.X.nbytes / 2**20),
                         "dropped": ds.dropped, "fingerprint": ds.fingerprint()}
    if args.drop_logset:
        del logset  # the dataset keeps what training needs
    if args.train == "full":
        result["train_mode"] = (f"train_bundle(n_jobs={args.jobs}): 5-fold leave-shape-out CV "
                                f"({args.jobs} folds in parallel, 1 thread each) + calibration "
                                f"+ final model ({args.jobs} threads)")
        marks = _Marks()
        with _stage(stages, "train", args.tracemalloc):
            marks.start()
            tr = train_bundle(ds, n_jobs=args.jobs, params=_params(args), progress=marks)
        stages["train"]["progress_seconds"] = marks.marks
        result["train_metrics_synthetic"] = tr.bundle.metadata["metrics"]
        if args.bundle_out:
            tr.bundle.save(args.bundle_out)
    elif args.train == "final":
        from helion_learned.models.ranker import CostModel

        result["train_mode"] = f"final CostModel.fit only (n_jobs={args.jobs}), no CV"
        with _stage(stages, "train", args.tracemalloc):
            CostModel(**{**_params(args), "n_jobs": args.jobs}).fit(
                ds.X, ds.y, ds.row_group, feature_names=ds.feature_names)


def _run_external(args: argparse.Namespace, gen: dict[str, Any], stages: dict[str, Any],
                  result: dict[str, Any]) -> None:
    from helion_learned.training.external_memory import train_bundle_external

    result["train_mode"] = (
        f"train_bundle_external (= helion-learned train --external-memory): one log base at a "
        f"time into feature shards, final model via xgboost.ExtMemQuantileDMatrix on all rows, "
        f"CV + calibration in memory on a {args.cv_workloads}-workload sample")
    marks = _Marks()
    cache = Path(args.data_dir) / "extmem_cache"
    with _stage(stages, "train_external", args.tracemalloc):
        marks.start()
        tr = train_bundle_external(gen["files"], cache, cv_workloads=args.cv_workloads,
                                   n_jobs=args.jobs, params=_params(args), progress=marks)
    stages["train_external"]["progress_seconds"] = marks.marks
    data = tr.bundle.metadata["training_data"]
    result["dataset"] = {"workloads": data["n_workloads"], "rows": data["n_rows"],
                         "dropped": data["dropped"], "fingerprint": data["fingerprint"]}
    result["external_memory"] = tr.bundle.metadata["external_memory"]
    result["train_metrics_synthetic"] = tr.bundle.metadata["metrics"]
    if args.bundle_out:
        tr.bundle.save(args.bundle_out)


def _generate_only(args: argparse.Namespace) -> None:
    families = tuple(args.families.split(",")) if args.families else BASE_FAMILIES
    gen = generate(Path(args.data_dir), args.rows, gzip_files=args.gzip, seed=args.seed,
                   configs_per_workload=args.configs_per_workload, n_bases=args.bases,
                   families=families)
    (Path(args.data_dir) / "generation.json").write_text(json.dumps(gen, indent=2) + "\n")


def sys_argv(args: argparse.Namespace) -> list[str]:
    """The generation options of ``args`` as command-line arguments."""
    out = ["--rows", str(args.rows), "--configs-per-workload", str(args.configs_per_workload),
           "--data-dir", str(args.data_dir), "--seed", str(args.seed), "--bases", str(args.bases)]
    if args.gzip:
        out.append("--gzip")
    if args.families:
        out += ["--families", args.families]
    return out


def _params(args: argparse.Namespace) -> dict[str, Any]:
    return {"n_estimators": args.n_estimators}


def _status_kb_meminfo(key: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("helion-learned", "xgboost", "numpy", "helion", "torch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="result rows (= training rows)")
    p.add_argument("--configs-per-workload", type=int, default=CONFIGS_PER_WORKLOAD)
    p.add_argument("--data-dir", default="build/scale_data",
                   help="where the synthetic logs go (regenerated unless --reuse)")
    p.add_argument("--reuse", action="store_true",
                   help="reuse logs already generated in --data-dir")
    p.add_argument("--gzip", action="store_true", help="write .gz logs")
    p.add_argument("--bases", type=int, default=1,
                   help="split the rows over this many log bases (files)")
    p.add_argument("--families", help="comma-separated suite families to take facts from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", choices=("full", "final", "external", "none"), default="full",
                   help="full: train_bundle; final: final model only; external: "
                        "train_bundle_external (the --external-memory path)")
    p.add_argument("--cv-workloads", type=int, default=2000, help="--train external only")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--n-estimators", type=int, default=300)
    p.add_argument("--drop-logset", action=argparse.BooleanOptionalAction, default=True,
                   help="free the parsed logs before training, as a memory-conscious caller would")
    p.add_argument("--tracemalloc", action="store_true", help="also report Python-heap peaks")
    p.add_argument("--bundle-out", help="save the trained bundle here (--train full)")
    p.add_argument("--out", default="reports/scale/scale_1m.json")
    p.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate_only:
        _generate_only(args)
        return 0
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
