"""What training-only logs of another GPU buy the H100 model (`train --extra-logs`).

    python experiments/extra_logs/extra_logs.py data/h100 --extra data/h200 data/h200_graph --seeds 5 \\
        -o experiments/extra_logs/report

For each seed s (folds and XGBoost both seeded s, as ``train --seed s``), a bundle is trained
twice through ``training.train.train_bundle``: on the logs alone and with ``--extra`` as
training-only rows (``Dataset.with_training_only``: the H100 folds are the same, a held-out
workload's H200 twin is held out with it, only H100 workloads are scored and calibrate the gate).
Reported per arm, over the seeds: the leave-shape-out geomean / p10 / share within 5 % of the
pick, split at 15 us, the gate's coverage, precision and worst fired pick at the 5 % wrong
budget (the shipped one) and at 10 %, and the leave-family-out geomean. Written:
``summary.json`` and ``report.md``. About 1 minute per seed on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # shared helpers

from timing_protocol import write_report
from transfer_common import load_dataset
from transfer_common import load_training_only

from helion_learned.models.calibration import choose_threshold
from helion_learned.training.dataset import Dataset

SHORT_US = 15.0
BUDGETS = (0.05, 0.10)


def one_run(ds: Dataset, seed: int, *, lfo: bool) -> dict[str, Any]:
    from helion_learned.models.ranker import CostModel
    from helion_learned.training.evaluate import group_outcomes
    from helion_learned.training.evaluate import oof_scores
    from helion_learned.training.evaluate import summarize
    from helion_learned.training.train import train_bundle

    result = train_bundle(ds, seed=seed, n_jobs=2)
    rel = np.array([o.rel_pick for o in result.outcomes])
    hits = np.array([o.hit for o in result.outcomes])
    best_us = np.array([ds.groups[o.group].best_ms * 1e3 for o in result.outcomes])
    run: dict[str, Any] = {
        "seed": seed, "experts": result.bundle.metadata["kernel_experts"]["used"],
        "train_seconds": result.train_seconds,
        "leave_shape_out": summarize(rel),
        "short": summarize(rel[best_us < SHORT_US]), "long": summarize(rel[best_us >= SHORT_US]),
        "per_family": {f: summarize(rel[[o.family == f for o in result.outcomes]])["geomean"]
                       for f in sorted({o.family for o in result.outcomes})},
        "gate": {},
    }
    for budget in BUDGETS:
        choice = choose_threshold(result.confidence, hits, wrong_budget=budget)
        fired = result.confidence >= choice.threshold
        run["gate"][f"{budget:g}"] = {
            "coverage": choice.coverage,
            "precision": choice.precision if fired.any() else None,
            "worst_fired": float(rel[fired].min()) if fired.any() else None}
    if lfo:
        params = {**CostModel().get_params(), "random_state": seed}
        scores = oof_scores(ds, "leave_family_out", params, n_jobs=2, seed=seed)
        run["leave_family_out"] = summarize([o.rel_pick for o in group_outcomes(ds, scores)])
    return run


def _mean_sd(values: list[float]) -> dict[str, float]:
    v = np.array([x for x in values if x is not None and x == x], dtype=float)
    return {"mean": float(v.mean()) if v.size else math.nan,
            "sd": float(v.std()) if v.size else math.nan, "n": int(v.size)}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
           "leave_shape_out_geomean": _mean_sd([r["leave_shape_out"]["geomean"] for r in runs]),
           "leave_shape_out_p10": _mean_sd([r["leave_shape_out"]["p10"] for r in runs]),
           "within_5pct": _mean_sd([r["leave_shape_out"]["within_5pct"] for r in runs]),
           "short_geomean": _mean_sd([r["short"]["geomean"] for r in runs]),
           "long_geomean": _mean_sd([r["long"]["geomean"] for r in runs]),
           "experts_used": sum(bool(r["experts"]) for r in runs),
           "train_seconds": _mean_sd([r["train_seconds"] for r in runs])}
    for budget in BUDGETS:
        key = f"{budget:g}"
        out[f"coverage_{key}"] = _mean_sd([r["gate"][key]["coverage"] for r in runs])
        out[f"fires_nowhere_{key}"] = sum(r["gate"][key]["coverage"] == 0 for r in runs)
        out[f"worst_fired_{key}"] = min((r["gate"][key]["worst_fired"] for r in runs
                                         if r["gate"][key]["worst_fired"] is not None),
                                        default=None)
    if all("leave_family_out" in r for r in runs):
        out["leave_family_out_geomean"] = _mean_sd([r["leave_family_out"]["geomean"]
                                                    for r in runs])
    return out


def render(result: dict[str, Any], out: Path) -> None:
    arms = result["arms"]
    names = list(arms)
    lines = ["# Training-only H200 logs for the H100 model (`train --extra-logs`)", "",
             f"Scored: {', '.join(result['logs'])} ({result['n_scored']} workloads). Training-only: "
             f"{', '.join(result['extra'])} ({result['n_extra']} workloads, {result['n_twins']} "
             "of them twins of a scored workload: held out with it). "
             f"Seeds {result['seeds']} (folds and XGBoost); mean ± sd over them. Regenerate: "
             f"`{result['command']}`.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

    def row(label: str, key: str, fmt: str = "{:.3f}") -> None:
        cells = []
        for n in names:
            v = arms[n]["summary"][key]
            if isinstance(v, dict):
                cells.append(f"{fmt.format(v['mean'])} ± {fmt.format(v['sd'])}")
            else:  # a count, or a worst pick (None: fired on no seed)
                cells.append("–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("leave-shape-out geomean", "leave_shape_out_geomean")
    row("leave-shape-out p10", "leave_shape_out_p10")
    row("within 5 %", "within_5pct")
    row(f"best < {SHORT_US:g} us, geomean", "short_geomean")
    row(f"best ≥ {SHORT_US:g} us, geomean", "long_geomean")
    if "leave_family_out_geomean" in arms[names[0]]["summary"]:
        row("leave-family-out geomean", "leave_family_out_geomean")
    for budget in BUDGETS:
        key = f"{budget:g}"
        row(f"gate coverage, {budget:.0%} wrong budget", f"coverage_{key}")
        row(f"seeds where the gate fires nowhere ({budget:.0%})", f"fires_nowhere_{key}")
        row(f"worst fired pick, any seed ({budget:.0%})", f"worst_fired_{key}")
    row("seeds keeping the experts (auto)", "experts_used")
    row("train seconds", "train_seconds", "{:.1f}")
    deltas = result["paired_geomean_delta"]
    lines += ["", f"Paired leave-shape-out geomean change (same seed): {deltas['mean']:+.4f} ± "
              f"{deltas['sd']:.4f}, higher in {deltas['higher']} of {deltas['n']} seeds.", "",
              "## Per family (leave-shape-out geomean, mean over seeds)", "",
              "| family | " + " | ".join(names) + " | change |", "|---|" + "---:|" * (len(names) + 1)]
    fams = result["per_family"]
    for fam in sorted(fams, key=lambda f: fams[f][names[-1]] - fams[f][names[0]]):
        vals = [fams[fam][n] for n in names]
        lines.append(f"| {fam} | " + " | ".join(f"{v:.3f}" for v in vals)
                     + f" | {vals[-1] - vals[0]:+.3f} |")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("logs", nargs="+", help="scored logs (e.g. data/h100)")
    p.add_argument("--extra", nargs="+", required=True, help="training-only logs")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--no-lfo", action="store_true", help="skip leave-family-out (halves time)")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args(argv)
    base = load_dataset([Path(p) for p in args.logs])
    extra = load_training_only([Path(p) for p in args.extra])
    joint = base.with_training_only(extra)
    arms = {"logs alone": base, "with training-only logs": joint}
    result: dict[str, Any] = {
        "command": "python experiments/extra_logs/extra_logs.py " + " ".join(args.logs) + " --extra "
                   + " ".join(args.extra) + f" --seeds {args.seeds}"
                   + (" --no-lfo" if args.no_lfo else "") + f" -o {args.out}",
        "logs": args.logs, "extra": args.extra, "seeds": list(range(args.seeds)),
        "n_scored": len(base.groups), "n_extra": len(extra.groups),
        "n_twins": joint.training_only_summary()["twins_of_scored"], "arms": {}}
    for name, ds in arms.items():
        runs = []
        for seed in range(args.seeds):
            start = time.perf_counter()
            runs.append(one_run(ds, seed, lfo=not args.no_lfo))
            print(f"[{name}] seed {seed}: leave-shape-out "
                  f"{runs[-1]['leave_shape_out']['geomean']:.4f}, coverage "
                  f"{runs[-1]['gate']['0.05']['coverage']:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        result["arms"][name] = {"runs": runs, "summary": aggregate(runs)}
    a, b = (result["arms"][n]["runs"] for n in arms)
    d = [y["leave_shape_out"]["geomean"] - x["leave_shape_out"]["geomean"]
         for x, y in zip(a, b, strict=True)]
    result["paired_geomean_delta"] = {"mean": float(np.mean(d)), "sd": float(np.std(d)),
                                      "higher": int(sum(x > 0 for x in d)), "n": len(d)}
    result["per_family"] = {f: {n: float(np.mean([r["per_family"][f]
                                                   for r in result["arms"][n]["runs"]]))
                                for n in arms} for f in a[0]["per_family"]}
    write_report(result, args.out, render)
    print(f"wrote {args.out}/report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
