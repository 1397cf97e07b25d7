"""Does ranking flattened grid configs pay at bind time, on workloads the model never saw?

Since stop 20 the candidate grid offers, for triton pointwise kernels with 2+ grid axes, a flattened
twin of each block product (features.config, models.candidates). The logs before then measured
flattened configs only as random ones, so the offline report cannot say how the *grid's* flattened
configs run. ``data/h200_flatten`` measured 21 pointwise workloads on an H200 (CUDA-graph timing),
new shapes outside the shipped bundle's training logs, with a sample of the new grid. Here the bundle ranks the
configs of the kinds it ranks at bind time (our grid and Helion's own configs) twice: with the
flattened grid configs and without them; both picks are read off the measured times.

    python experiments/flatten_check/flatten_check.py data/h200_flatten \\
        --model helion_learned/models/artifacts/triton/cuda_sm90 -o experiments/flatten_check/report
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository

METHODS = ("learned", "learned_no_flatten", "helion_default", "best_bind_time",
           "best_bind_time_no_flatten")
LABELS = {
    "learned": "learned pick, grid with flattened configs (shipped)",
    "learned_no_flatten": "same model, flattened configs left out (the grid before stop 20)",
    "helion_default": "Helion's default (autotune off)",
    "best_bind_time": "best measured config of those kinds (oracle)",
    "best_bind_time_no_flatten": "best measured of them, not flattened",
}


def is_flattened(config: dict[str, Any]) -> bool:
    return any(bool(x) for x in (config.get("flatten_loops") or []))


def check_group(group: Any, scores: np.ndarray) -> dict[str, Any] | None:
    """One workload: relative speeds (best measured ÷ time) of each method; None when the log
    holds no config of a kind the adapter ranks at bind time."""
    from helion_learned.features.feasibility import ranked_subset
    from helion_learned.training.evaluate import bind_time_kind
    from helion_learned.training.evaluate import origin_rel

    ranked = set(ranked_subset(group.feasible).tolist())
    bind = [i for i, o in enumerate(group.origins) if bind_time_kind(o) and i in ranked]
    if not bind:
        return None
    flat = [i for i in bind if is_flattened(group.configs[i])]
    plain = [i for i in bind if not is_flattened(group.configs[i])]
    rel = group.rel

    def pick(idx: list[int]) -> int | None:
        return max(idx, key=lambda i: (scores[i], -i)) if idx else None

    learned, no_flat = pick(bind), pick(plain)
    default = origin_rel(group, "helion_effective_default")
    if math.isnan(default):
        default = origin_rel(group, "default")
    return {
        "family": group.family, "input_shapes": group.input_shapes, "dtypes": group.dtypes,
        "best_us": group.best_ms * 1e3, "n_bind_time": len(bind), "n_flattened": len(flat),
        "learned_flattened": is_flattened(group.configs[learned]),
        "learned_config": group.configs[learned],
        "rel": {
            "learned": float(rel[learned]),
            "learned_no_flatten": float(rel[no_flat]) if no_flat is not None else math.nan,
            "helion_default": float(default),
            "best_bind_time": float(rel[bind].max()),
            "best_bind_time_no_flatten": float(rel[plain].max()) if plain else math.nan,
        },
    }


def workload_label(row: dict[str, Any]) -> str:
    """Family, first dtype and shapes: two suite families share a kernel and shapes (add fp32/bf16)."""
    dtype = row["dtypes"].strip("[]").split(",")[0].strip(" '").removeprefix("torch.")
    return f"{row['family']} {dtype} {row['input_shapes']}"


def geomean(values: list[float]) -> float:
    v = [x for x in values if x == x]
    return float(np.exp(np.mean(np.log(np.clip(v, 1e-3, None))))) if v else math.nan


def run(paths: list[Path], model: Path) -> dict[str, Any]:
    from transfer_common import load_dataset

    from helion_learned.models.bundle import ModelBundle
    from helion_learned.models.predict import Predictor

    bundle = ModelBundle.load(model)
    predictor = Predictor(bundle)
    ds = load_dataset(paths)
    rows = []
    for g in ds.groups:
        row = check_group(g, predictor.score(g.facts, g.hw, g.configs))
        if row is not None:
            rows.append(row)
    summary = {m: geomean([r["rel"][m] for r in rows]) for m in METHODS}
    paired = [r["rel"]["learned"] / r["rel"]["learned_no_flatten"] for r in rows
              if r["rel"]["learned_no_flatten"] > 0]
    return {
        "logs": [str(p) for p in paths], "model": str(model),
        "model_fingerprint": bundle.metadata.get("training_data", {}).get("fingerprint"),
        "hardware": sorted({g.hardware for g in ds.groups}),
        "n_workloads": len(rows), "geomean": summary,
        "p10": {m: float(np.nanquantile([r["rel"][m] for r in rows], 0.1)) for m in METHODS},
        "within_5pct": {m: float(np.mean([r["rel"][m] >= 1 / 1.05 for r in rows]))
                        for m in METHODS},
        "learned_picks_flattened": int(sum(r["learned_flattened"] for r in rows)),
        "paired_ratio_geomean": geomean(paired),
        "paired_better": int(sum(p > 1.005 for p in paired)),
        "paired_worse": int(sum(p < 1 / 1.005 for p in paired)),
        "workloads": rows,
    }


def render(result: dict[str, Any]) -> str:
    n = result["n_workloads"]
    lines = [
        "# Flattened grid configs at bind time (held-out pointwise workloads)", "",
        f"Logs: {', '.join(result['logs'])} ({', '.join(result['hardware'])}, CUDA-graph timing); "
        f"model: `{result['model']}`. {n} workloads outside the model's training logs (it "
        "never saw them). Ranked: the configs of the kinds the adapter ranks at bind time (our "
        "grid, Helion's default and its heuristics' seeds); relative speed = best measured "
        "config of the workload (any origin) ÷ the pick's time. Regenerate: "
        "`python experiments/flatten_check/flatten_check.py data/h200_flatten --model "
        "helion_learned/models/artifacts/triton/cuda_sm90 -o experiments/flatten_check/report`.", "",
        "| method | geomean | p10 | within 5 % |", "|---|---:|---:|---:|",
    ]
    for m in METHODS:
        lines.append(f"| {LABELS[m]} | {result['geomean'][m]:.3f} | {result['p10'][m]:.3f} | "
                     f"{100 * result['within_5pct'][m]:.0f}% |")
    lines += [
        "", f"{sum(r['n_flattened'] > 0 for r in result['workloads'])} of the {n} workloads had "
        "flattened grid configs measured (Helion offers no `flatten_loops` for the others: rotary, "
        "embedding, concat; their two picks are the same). "
        f"The shipped pick is a flattened config on {result['learned_picks_flattened']} of "
        f"{n} workloads. Pick with ÷ without the flattened configs, per workload: geomean "
        f"{result['paired_ratio_geomean']:.3f}; faster by more than 0.5 % on "
        f"{result['paired_better']}, slower on {result['paired_worse']}.", "",
        "| workload | best us | learned | no flatten | Helion default | oracle | oracle, no "
        "flatten | pick flattened |", "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(result["workloads"], key=lambda r: (r["family"], r["input_shapes"])):
        v = r["rel"]
        lines.append(
            f"| {workload_label(r)} | {r['best_us']:.1f} | {v['learned']:.3f} | "
            f"{v['learned_no_flatten']:.3f} | {v['helion_default']:.3f} | "
            f"{v['best_bind_time']:.3f} | {v['best_bind_time_no_flatten']:.3f} | "
            f"{'yes' if r['learned_flattened'] else 'no'} |")
    lines += ["", "![per workload](per_workload.png)", ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(result["workloads"], key=lambda r: r["rel"]["learned_no_flatten"])
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(rows)), 4.0))
    for k, (m, color) in enumerate((("learned", "tab:blue"), ("learned_no_flatten", "tab:gray"),
                                    ("helion_default", "tab:orange"))):
        ax.bar(x + (k - 1) * 0.27, [r["rel"][m] for r in rows], 0.27, label=LABELS[m], color=color)
    ax.set_xticks(x, [workload_label(r)[:40] for r in rows],
                  rotation=75, ha="right", fontsize=7)
    ax.set_ylabel("best measured ÷ pick time")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("logs", nargs="+", type=Path)
    p.add_argument("--model", type=Path, required=True, help="bundle directory")
    p.add_argument("-o", "--out", type=Path, required=True, help="report folder")
    args = p.parse_args(argv)
    result = run(args.logs, args.model)
    if not result["n_workloads"]:
        print(f"error: no workload in {args.logs} holds a config of a bind-time kind "
              "(our grid or Helion's own); these logs need origins sidecars", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "report.md").write_text(render(result))
    plot(result, args.out / "per_workload.png")
    g = result["geomean"]
    print(f"{args.out}/report.md: {result['n_workloads']} workloads; learned {g['learned']:.3f}, "
          f"without flattened configs {g['learned_no_flatten']:.3f}, Helion default "
          f"{g['helion_default']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
