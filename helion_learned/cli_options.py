"""Options and log loading shared by the ``helion-learned`` commands (see :mod:`.cli`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_log_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("logs", nargs="+", help="Helion autotune logs: files, directories, .gz ok")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip malformed rows/records (counted) instead of stopping at the first")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--prefer-timer", choices=("cudagraph", "launch"), default=None,
                   help="scored logs that measured one workload under both Helion timers (e.g. "
                        "data/h100 + data/h100_graph): score and train it on this timer's rows "
                        "and leave its other twin out (default: refuse such logs)")


def add_extra_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extra-logs", nargs="+", metavar="LOGS", default=[],
                   help="more Helion autotune logs that only train (e.g. another GPU's): every "
                        "model learns from them, but they are never scored, never calibrate "
                        "the threshold and never widen the GPUs the bundle fires on; a held-out "
                        "workload's runs in them (same kernel, shapes, dtypes) are held out too")


def add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json"), default="table")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Options shared by `train` and `evaluate` (the model and its confidence gate)."""
    from .models.ranker import CostModel

    defaults = CostModel().get_params()  # one place for the defaults: the model's own
    p.add_argument("--objective", default=defaults["objective"],
                   choices=("regression", "pairwise", "ndcg"))
    for name, kind in (("n_estimators", int), ("max_depth", int), ("learning_rate", float),
                       ("subsample", float), ("colsample_bytree", float),
                       ("min_child_weight", float)):
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=defaults[name],
                       help=f"XGBoost {name} (default {defaults[name]})")
    p.add_argument("--within", type=float, default=0.05,
                   help="reported hit rate: a pick within this fraction of the best (0.05 = "
                        "5%%); also the gate's target for logs that do not tag Helion's default")
    p.add_argument("--wrong-budget", type=float, default=0.05,
                   help="max share of promoted picks more than 5%% slower than Helion's default "
                        "at the chosen threshold")
    p.add_argument("--jobs", type=int, default=2, help="parallel CV folds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--experts", choices=("auto", "on", "off"), default="auto",
                   help="per-kernel experts (models.kernel_experts): auto = only if they raise "
                        "the leave-shape-out geomean in cross-validation (default)")


def experts_choice(args: argparse.Namespace) -> bool | None:
    return {"auto": None, "on": True, "off": False}[args.experts]


def model_params(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("objective", "n_estimators", "max_depth",
                                          "learning_rate", "subsample", "colsample_bytree",
                                          "min_child_weight")}


def add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default=None, choices=("triton", "cute"),
                   help="Helion backend of the logs (default: what their facts say); a model "
                        "is per backend")


def load_dataset(args: argparse.Namespace, update: Any) -> Any:
    ds = _load_logs(args.logs, args, update, "")
    extra = getattr(args, "extra_logs", None)
    if not extra:
        return ds
    # Loaded on their own: each set's timer check and run_id joins stay within it.
    return ds.with_training_only(_load_logs(extra, args, update, "extra logs: "))


def _load_logs(paths: list[str], args: argparse.Namespace, update: Any, label: str) -> Any:
    from .training import timer_split

    if not label:
        timer = getattr(args, "prefer_timer", None)
        if not timer:
            return _load_part(paths, args, update, label)
        ds, left_out = timer_split.load_preferring(
            paths, timer, lambda p, part: _load_part(p, args, update,
                                                     f"{part} logs: " if part else ""))
        if not left_out:
            return ds
        print(f"note (--prefer-timer {timer}): {left_out} workload(s) were measured under both "
              f"Helion timers; they are scored and trained on their {timer} rows, the other "
              "timer's twin is left out", file=sys.stderr)
        return ds

    # Training-only logs may hold one workload under both timers: one group per timer.
    parts = [_load_part(p, args, update, label) for p in timer_split.timer_parts(paths)]
    if len(parts) == 1:
        return parts[0]
    print(f"{label}note: {timer_split.shared_run_ids(parts)} workload(s) were measured under "
          "both Helion timers; as training-only rows they train as one group per timer",
          file=sys.stderr)
    return timer_split.concat(parts)


def _load_part(paths: list[Any], args: argparse.Namespace, update: Any, label: str) -> Any:
    from .training.dataset import build_dataset
    from .training.logs import load_logs
    from .training.logs.origins import MIXED_TIMERS_FIX
    from .training.logs.origins import check_timing
    from .training.logs.origins import load_origins
    from .training.logs.origins import timing_by_run

    logset = load_logs(paths, skip_bad=args.skip_bad,
                       progress=lambda i, n: update(f"{label}reading logs", i, n))
    if logset.skipped:
        print(f"{label}skipped (--skip-bad): {dict(logset.skipped)}", file=sys.stderr)
    timers = timing_by_run(logset.files)
    if (warning := check_timing(logset.files, timers)) and label:
        # Training-only rows train but are never scored or calibrate the gate (the shipped
        # default mixes H200 timers there on purpose: experiments/extra_logs/report), so no fix is asked.
        print(f"{label}note: {warning.removesuffix(MIXED_TIMERS_FIX)}They are training-only "
              "rows: the scored logs' labels and the gate are unaffected.", file=sys.stderr)
    elif warning:
        print(f"{label}warning: {warning}", file=sys.stderr)
    origins = load_origins(logset.files)
    return build_dataset(logset, origins=origins, backend=getattr(args, "backend", None),
                         timers=timers,
                         progress=lambda i, n: update(f"{label}building features", i, n))
