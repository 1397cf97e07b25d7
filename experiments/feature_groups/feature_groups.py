"""How much each feature group adds on unseen kernels and shapes (issue #29, item 2).

    python experiments/feature_groups/feature_groups.py data/h100 --extra data/h200 data/h200_graph \\
        --seeds 3 --lso-seeds 1 --baseline-lso-seeds 3 -o experiments/feature_groups/report

The 91 triton columns (``FeatureExtractor().feature_names``) are split into the groups of
``GROUPS`` (every column in exactly one). Each arm removes some groups: their columns are set to
NaN in ``X`` for every row, so the models of every fold train and score without them (XGBoost
treats NaN as missing: an all-NaN column offers no split, which is the same as dropping it, and
keeps the feature list the library expects). Nothing else changes: the data is loaded as
``scripts/main.sh`` trains (scored logs plus ``--extra`` as training-only rows), and each arm runs
the project's own cross-validation (``training.evaluate``): leave-family-out
(``oof_scores``, one fold per kernel family) and leave-shape-out (``oof_score_pair``, the per-kernel
experts blended in as the shipped bundle does; the global model alone is kept in the JSON too),
folds drawn with seed 0 for every arm, XGBoost ``random_state`` 0, 1, ... (``--seeds`` for
leave-family-out; the first ``--lso-seeds`` of them for leave-shape-out, the first
``--baseline-lso-seeds`` for the baseline's, whose spread is the noise floor), the shipped
hyperparameters. Derived columns (``d_*``) are computed from kernel, hardware and config facts,
so an arm that removes ``k_*`` columns keeps what the ``d_*`` columns encode of them.

Written: ``results.json`` (every run, per-family leave-family-out geomeans, the group mapping)
and ``results.md`` (``--render-only`` rewrites it from the JSON). About 60 s per arm and seed
for leave-family-out and 35 s for leave-shape-out on 2 busy cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # shared helpers

from transfer_common import load_dataset
from transfer_common import load_training_only

from helion_learned.training.dataset import Dataset

# Feature groups: every triton column in exactly one (checked against the extractor at run time).
GROUPS: dict[str, tuple[str, ...]] = {
    "kernel kind (one-hot)": ("k_kind_matmul", "k_kind_reduction", "k_kind_pointwise",
                              "k_kind_other"),
    "loop nest": ("k_num_blocks", "k_num_grid", "k_num_reduction_loops", "k_num_range_loops",
                  "k_num_reductions", "k_contig_extent_log2", "k_grid_numel_log2",
                  "k_red_size_log2", "k_pw_numel_log2"),
    "memory ops": ("k_load_bytes_log2", "k_store_bytes_log2", "k_bytes_log2", "k_min_itemsize",
                   "k_max_itemsize", "k_red_itemsize", "k_num_loads", "k_num_stores",
                   "k_num_atomics", "k_red_reread", "k_pw_slab"),
    "dots": ("k_num_matmuls", "k_mm_m_log2", "k_mm_n_log2", "k_mm_k_log2", "k_mm_bits",
             "k_mm_batched", "k_mm_batch_log2"),
    "op histogram": ("k_ops_dot", "k_ops_reduce", "k_ops_sfu", "k_ops_elementwise", "k_ops_load",
                     "k_ops_store", "k_ops_atomic", "k_ops_cast", "k_ops_loop", "k_pw_sfu"),
    "arithmetic intensity": ("k_flops_log2", "k_intensity_log2"),
    "hardware": ("hw_cc", "hw_sm_count", "hw_smem_kb", "hw_l2_mb", "hw_mem_bw_tbs"),
    "config": ("cfg_m_log2", "cfg_m_fill", "cfg_n_log2", "cfg_n_fill", "cfg_k_log2", "cfg_k_fill",
               "cfg_red_log2", "cfg_red_fill", "cfg_g0_log2", "cfg_g0_fill", "cfg_g1_log2",
               "cfg_g1_fill", "cfg_g2_log2", "cfg_g2_fill", "cfg_loop_log2", "cfg_loop_fill",
               "cfg_warps_log2", "cfg_stages", "cfg_pid_flat", "cfg_pid_persistent_blocked",
               "cfg_pid_persistent_interleaved", "cfg_l2_grouping_log2", "cfg_red_looped",
               "cfg_tma_share", "cfg_sm_multiplier_log2", "cfg_range_stages_mean",
               "cfg_range_unroll_mean", "cfg_flatten"),
    "derived (d_*)": ("d_programs_log2", "d_waves_log2", "d_last_wave_fill", "d_tile_log2",
                      "d_elems_per_thread_log2", "d_padding_waste", "d_smem_kb",
                      "d_smem_over_capacity", "d_acc_regs_per_thread", "d_k_iters_log2",
                      "d_tile_reuse", "d_bytes_per_program_log2", "d_bytes_per_thread_log2",
                      "d_mem_time_us_log2", "d_contig_tile_bytes_log2"),
}
KERNEL_GROUPS = ("kernel kind (one-hot)", "loop nest", "memory ops", "dots", "op histogram",
                 "arithmetic intensity")
# Arms: name -> the groups removed. One arm per group, then the contrasts.
ARMS: dict[str, tuple[str, ...]] = {
    "baseline (all columns)": (),
    **{f"- {g}": (g,) for g in GROUPS},
    "- all k_* (kernel facts)": KERNEL_GROUPS,
}
BASELINE = "baseline (all columns)"


def check_groups(feature_names: tuple[str, ...]) -> None:
    listed = [c for cols in GROUPS.values() for c in cols]
    dup = sorted({c for c in listed if listed.count(c) > 1})
    missing = sorted(set(feature_names) - set(listed))
    unknown = sorted(set(listed) - set(feature_names))
    if dup or missing or unknown:
        raise SystemExit(f"feature groups out of date: duplicated {dup}, not grouped {missing}, "
                         f"not features {unknown}")


def ablated(ds: Dataset, groups: tuple[str, ...]) -> Dataset:
    """``ds`` with the groups' columns set to NaN (a copy of X; groups and folds are shared)."""
    if not groups:
        return ds
    idx = [ds.feature_names.index(c) for g in groups for c in GROUPS[g]]
    X = ds.X.copy()
    X[:, idx] = np.nan
    return dataclasses.replace(ds, X=X)


def one_seed(ds: Dataset, seed: int, *, lso: bool, lfo: bool, n_jobs: int) -> dict[str, Any]:
    from helion_learned.models.ranker import CostModel
    from helion_learned.training.evaluate import group_outcomes
    from helion_learned.training.evaluate import oof_score_pair
    from helion_learned.training.evaluate import oof_scores
    from helion_learned.training.evaluate import summarize

    params = {**CostModel().get_params(), "random_state": seed}
    start = time.perf_counter()
    run: dict[str, Any] = {"seed": seed}
    # Folds always from seed 0: every arm and model seed is scored on the same held-out sets.
    if lfo:
        out = group_outcomes(ds, oof_scores(ds, "leave_family_out", params, n_jobs=n_jobs,
                                            seed=0))
        run["leave_family_out"] = summarize([o.rel_pick for o in out])
        run["lfo_per_family"] = {f: summarize([o.rel_pick for o in out
                                               if o.family == f])["geomean"]
                                 for f in sorted({o.family for o in out})}
    if lso:
        base, blended = oof_score_pair(ds, "leave_shape_out", params, n_jobs=n_jobs, seed=0,
                                       experts=True)
        run["leave_shape_out"] = summarize([o.rel_pick for o in group_outcomes(ds, blended)])
        run["leave_shape_out_global_only"] = summarize([o.rel_pick
                                                        for o in group_outcomes(ds, base)])
    run["seconds"] = time.perf_counter() - start
    return run


def _mean_sd(values: list[float]) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()) if v.size else math.nan,
            "sd": float(v.std()) if v.size else math.nan, "n": int(v.size),
            "values": [float(x) for x in v]}


def summarize_arm(runs: list[dict[str, Any]], base_runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("leave_family_out", "leave_shape_out", "leave_shape_out_global_only"):
        mine = [r[key]["geomean"] for r in runs if key in r]
        if not mine:
            continue
        pairs = [(r[key]["geomean"], b[key]["geomean"])
                 for r, b in zip(runs, base_runs, strict=False) if key in r and key in b]
        d = [a - b for a, b in pairs]
        out[key] = {**_mean_sd(mine),
                    "paired_delta": {**_mean_sd(d), "higher": int(sum(x > 0 for x in d)),
                                     "lower": int(sum(x < 0 for x in d))}}
    lfo_runs = [r for r in runs if "lfo_per_family" in r]
    out["lfo_per_family"] = {f: float(np.mean([r["lfo_per_family"][f] for r in lfo_runs]))
                             for f in (lfo_runs[0]["lfo_per_family"] if lfo_runs else {})}
    out["seconds"] = float(sum(r["seconds"] for r in runs))
    return out


def render(result: dict[str, Any]) -> str:
    arms = result["arms"]
    base = arms[BASELINE]["summary"]
    lines = [
        "# Feature-group ablation (leave-family-out and leave-shape-out geomean)", "",
        f"Data: {result['data_note']} Scored: {', '.join(result['logs'])} "
        f"({result['n_scored']} workloads); training-only: {', '.join(result['extra'])} "
        f"({result['n_extra']} workloads). Run {result['date']} on {result['host']}, "
        f"{result['wall_seconds'] / 60:.1f} min wall. Regenerate: `{result['command']}`.", "",
        "Removed columns are set to NaN in X for training and scoring (every fold model, "
        "experts included). Folds: seed 0 for every arm. LFO = leave-family-out (one fold per "
        f"kernel family, global model), XGBoost seeds {result['seeds']}. LSO = leave-shape-out "
        "(5 folds, per-kernel experts blended as the shipped bundle does; `LSO global only`: "
        f"the same fold models without them), seeds {result['lso_seeds']} "
        f"(baseline: {result['baseline_lso_seeds']}). Geomean: mean over the arm's seeds; "
        "Δ: mean of the paired change vs the baseline on the same seed, (seeds up/down).", "",
        "Baseline per seed (the noise floor): " + "; ".join(
            f"{label} {', '.join(f'{v:.4f}' for v in base[key]['values'])} "
            f"(sd {base[key]['sd']:.4f})"
            for label, key in (("LFO", "leave_family_out"), ("LSO", "leave_shape_out"),
                               ("LSO global only", "leave_shape_out_global_only"))
            if key in base) + ".", "",
        "| arm | columns removed | LFO geomean | LFO seed sd | Δ LFO (up/down) | LSO geomean "
        "| Δ LSO (up/down) | LSO global only | Δ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def cell(s: dict[str, Any], key: str) -> tuple[str, str]:
        if key not in s:
            return "–", "–"
        d = s[key]["paired_delta"]
        return (f"{s[key]['mean']:.3f}", f"{d['mean']:+.3f} ({d['higher']}/{d['lower']})")

    for name, arm in arms.items():
        s = arm["summary"]
        lfo, dlfo = cell(s, "leave_family_out")
        lso, dlso = cell(s, "leave_shape_out")
        glo, dglo = cell(s, "leave_shape_out_global_only")
        if name == BASELINE:
            dlfo = dlso = dglo = "–"
        sd = f"{s['leave_family_out']['sd']:.4f}" if "leave_family_out" in s else "–"
        lines.append(f"| {name} | {arm['n_columns']} | {lfo} | {sd} | {dlfo} | {lso} | {dlso} "
                     f"| {glo} | {dglo} |")
    names = list(arms)
    lines += ["", "## Leave-family-out geomean per held-out family (mean over seeds)", "",
              "| family | " + " | ".join(n.removeprefix("- ") for n in names) + " |",
              "|---|" + "---:|" * len(names)]
    for fam in base["lfo_per_family"]:
        lines.append(f"| {fam} | " + " | ".join(f"{arms[n]['summary']['lfo_per_family'][fam]:.3f}"
                                              for n in names) + " |")
    lines += ["", "## Groups", "", "| group | n | columns |", "|---|---:|---|"]
    for g, cols in GROUPS.items():
        lines.append(f"| {g} | {len(cols)} | {', '.join(f'`{c}`' for c in cols)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("logs", nargs="*", help="scored logs (e.g. data/h100)")
    p.add_argument("--extra", nargs="*", default=[], help="training-only logs")
    p.add_argument("--seeds", type=int, default=3, help="XGBoost seeds, leave-family-out")
    p.add_argument("--lso-seeds", type=int, default=3,
                   help="the first this many seeds also run leave-shape-out")
    p.add_argument("--baseline-lso-seeds", type=int, default=None,
                   help="leave-shape-out seeds of the baseline (default --lso-seeds): its sd")
    p.add_argument("--arms", nargs="*", default=None, help="subset of arm names (default all)")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--data-note", default="")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite results.md from the results.json in --out (no training)")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.render_only:
        result = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
        (args.out / "results.md").write_text(render(result), encoding="utf-8")
        return 0
    if not args.logs:
        p.error("give the scored logs (e.g. data/h100)")
    start = time.perf_counter()
    ds = load_dataset([Path(x) for x in args.logs])
    n_scored, n_extra = len(ds.groups), 0
    if args.extra:
        extra = load_training_only([Path(x) for x in args.extra])
        n_extra = len(extra.groups)
        ds = ds.with_training_only(extra)
    check_groups(ds.feature_names)
    base_lso = args.lso_seeds if args.baseline_lso_seeds is None else args.baseline_lso_seeds
    arm_names = [BASELINE] + [a for a in ARMS if a != BASELINE
                              and (args.arms is None or a in args.arms)]
    result: dict[str, Any] = {
        "command": "python experiments/feature_groups/feature_groups.py " + " ".join(args.logs)
                   + (" --extra " + " ".join(args.extra) if args.extra else "")
                   + f" --seeds {args.seeds} --lso-seeds {args.lso_seeds}"
                   + (f" --baseline-lso-seeds {base_lso}" if base_lso != args.lso_seeds else "")
                   + (" --arms " + " ".join(shlex.quote(a) for a in args.arms) if args.arms else "")
                   + (f" --data-note {shlex.quote(args.data_note)}" if args.data_note else "")
                   + f" -o {args.out}",
        "data_note": args.data_note,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "host": f"{platform.node()} ({platform.processor() or platform.machine()}, n_jobs "
                f"{args.n_jobs})",
        "git_commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True,
                                     text=True, check=False).stdout.strip(),
        "logs": args.logs, "extra": args.extra, "n_scored": n_scored, "n_extra": n_extra,
        "seeds": list(range(args.seeds)), "lso_seeds": list(range(args.lso_seeds)),
        "baseline_lso_seeds": list(range(base_lso)),
        "groups": {g: list(cols) for g, cols in GROUPS.items()}, "arms": {}}
    for name in arm_names:
        arm_ds = ablated(ds, ARMS[name])
        runs = []
        n_lso = base_lso if name == BASELINE else args.lso_seeds
        for seed in range(max(args.seeds, n_lso)):
            runs.append(one_seed(arm_ds, seed, lso=seed < n_lso, lfo=seed < args.seeds,
                                 n_jobs=args.n_jobs))
            r = runs[-1]
            lso = f", LSO {r['leave_shape_out']['geomean']:.4f}" if "leave_shape_out" in r else ""
            lfo = f"LFO {r['leave_family_out']['geomean']:.4f}" if "leave_family_out" in r else ""
            print(f"[{name}] seed {seed}: {lfo}{lso} ({r['seconds']:.0f} s)", flush=True)
        result["arms"][name] = {
            "removed_groups": list(ARMS[name]),
            "n_columns": sum(len(GROUPS[g]) for g in ARMS[name]), "runs": runs}
        base_runs = result["arms"][BASELINE]["runs"]
        for arm in result["arms"].values():
            arm["summary"] = summarize_arm(arm["runs"], base_runs)
        result["wall_seconds"] = time.perf_counter() - start
        # Written after every arm: a cut-short run keeps what it measured.
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(result, indent=1) + "\n",
                                               encoding="utf-8")
        (args.out / "results.md").write_text(render(result), encoding="utf-8")
    print(f"wrote {args.out}/results.md ({result['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
