"""Does training on more kernels help on kernels the model never saw?

    python experiments/new_kernel_training/new_kernel_training.py

Issue #29's lever is kernel diversity: the shipped bundle knows 21 kernels, and its
leave-family-out score (0.874) trails leave-shape-out (0.919). ``data/h100_new`` holds H100
measurements (CUDA-graph timing) of new suite kernels the bundle never trained on. Two
questions, same H100 hardware, the bundle's hyperparameters, XGBoost seeds 0-2:

1. **New kernels.** Scored by a model trained on the shipped data only (what a user gets
   today), against one that also trained on the *other* new kernels (leave-kernel-out over
   the new kernels; the held-out kernel's workloads never train).
2. **Suite kernels.** Leave-family-out on the 21 suite kernels, with and without the new
   kernels' workloads in every fold's training rows.

Training data as ``scripts/main.sh`` (``data/h100`` and ``data/h100_graph`` scored, a workload
measured under both timers on its CUDA-graph rows as ``--prefer-timer cudagraph`` does;
``data/h200`` and ``data/h200_graph`` training-only) plus ``data/h100_new`` (scored). Writes report/result.json.
A few minutes on 2 cores; the runtime grows with ``data/h100_new``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from transfer_common import load_dataset  # noqa: E402
from transfer_common import load_training_only  # noqa: E402

from helion_learned.models.ranker import CostModel  # noqa: E402
from helion_learned.training.evaluate import expected_best_of_random  # noqa: E402
from helion_learned.training.evaluate import folds  # noqa: E402
from helion_learned.training.evaluate import group_outcomes  # noqa: E402
from helion_learned.training.evaluate import grouped_family_folds  # noqa: E402
from helion_learned.training.evaluate import oof_scores  # noqa: E402
from helion_learned.training.evaluate import summarize  # noqa: E402
from helion_learned.training.timer_split import concat  # noqa: E402
from helion_learned.training.timer_split import load_preferring  # noqa: E402

SUITE_LOGS = [ROOT / "data/h100", ROOT / "data/h100_graph"]  # --prefer-timer cudagraph
NEW_LOGS = [ROOT / "data/h100_new"]
EXTRA_LOGS = [ROOT / "data/h200", ROOT / "data/h200_graph"]
SEEDS = (0, 1, 2)
SLOWER = 1 / 1.05  # "more than 5 % slower than Helion's default"


def geomean(values: list[float]) -> float:
    return summarize(values)["geomean"]


def oof(ds, fold_list: list[np.ndarray], seed: int) -> np.ndarray:
    params = {**CostModel().get_params(), "random_state": seed}
    return oof_scores(ds, "leave_family_out", params, n_jobs=2, seed=0, fold_list=fold_list)


def summarize_picks(ds, scores: np.ndarray, keep: set[int]) -> dict:
    """The picks' geomean on the groups in ``keep``, and how they compare with the default."""
    out = [o for o in group_outcomes(ds, scores) if o.group in keep]
    pick = [o.rel_pick for o in out]
    default = [o.rel_fallback for o in out]
    ratio = [p / d for p, d in zip(pick, default, strict=True) if d > 0]
    return {"n": len(out), "pick": geomean(pick),
            "slower_than_default_5pct": int(sum(r < SLOWER for r in ratio)),
            "faster_than_default_5pct": int(sum(r > 1.05 for r in ratio)),
            "per_family": {f: geomean([o.rel_pick for o in out if o.family == f])
                           for f in sorted({o.family for o in out})}}


def baselines(ds, keep: set[int]) -> dict:
    groups = [ds.groups[i] for i in sorted(keep)]
    fallback = [o.rel_fallback for o in group_outcomes(ds, np.zeros(len(ds.y))) if o.group in keep]
    return {"helion_default": geomean(fallback),
            "random_1": geomean([expected_best_of_random(g.rel, 1) for g in groups]),
            "random_8": geomean([expected_best_of_random(g.rel, 8) for g in groups])}


def mean_of(runs: list[dict]) -> dict:
    return {"per_seed": [r["pick"] for r in runs], "mean": float(np.mean([r["pick"] for r in runs])),
            "slower_than_default_5pct": [r["slower_than_default_5pct"] for r in runs],
            "faster_than_default_5pct": [r["faster_than_default_5pct"] for r in runs],
            "per_family_seed0": runs[0]["per_family"]}


def load_data() -> tuple:
    """(suite, union, suite families, new groups, old groups): the shipped training data
    (``suite``), the same plus the new kernels' workloads (``union``), and which of the union's
    scored groups are new kernels and which suite kernels. Shared with borrowed_experts.py."""
    extra = load_training_only(EXTRA_LOGS)
    plain, _ = load_preferring(SUITE_LOGS, "cudagraph", lambda paths, _part: load_dataset(paths))
    suite = plain.with_training_only(extra)
    suite_fams = set(suite.families[suite.scored_groups].tolist())
    # Only the new kernels: a suite kernel re-measured on other inputs (matmul_strided binds
    # `matmul`) is neither new nor one timer with its data/h100 twin.
    new_ds = load_dataset(NEW_LOGS)
    new_ds = new_ds.subset([i for i, g in enumerate(new_ds.groups) if g.family not in suite_fams])
    union = concat([plain, new_ds]).with_training_only(extra)
    scored = [int(i) for i in union.scored_groups]
    new = {i for i in scored if union.families[i] not in suite_fams}
    return suite, union, suite_fams, new, set(scored) - new


def grouped_arms(suite, union, new: set[int], old: set[int], n_groups: int) -> dict:
    """The same questions from fewer fits: the union's families dealt at random into
    ``n_groups`` folds (a held-out kernel's fold-mates are held out with it, so fewer other
    kernels train than under one fold per kernel: a stricter test). The suite-only arm uses the
    same deal restricted to the suite's families, so both suite arms hold out the same kernels
    together."""
    union_folds = grouped_family_folds(union, n_groups, seed=0)
    fam_of = union.families
    suite_index = {f: np.flatnonzero(suite.families == f) for f in set(suite.families.tolist())}
    suite_folds = []
    for fold in union_folds:
        fams = sorted({fam_of[i] for i in fold.tolist()} & set(suite_index))
        if fams:
            suite_folds.append(np.sort(np.concatenate([suite_index[f] for f in fams])))
    return {
        "new kernels, trained on the shipped data only": (union, [np.array(sorted(new))], new),
        "new kernels, trained also on the other new kernels": (union, union_folds, new),
        "suite leave-family-out, shipped data": (suite, suite_folds,
                                                 {int(i) for i in suite.scored_groups}),
        "suite leave-family-out, + new kernels' workloads": (union, union_folds, old),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family-groups", type=int, default=0,
                   help="deal the families into this many folds (0: one fold per kernel)")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "report" / "result.json")
    ns = p.parse_args(argv)
    suite, union, suite_fams, new, old = load_data()
    new_fams = sorted({union.families[i] for i in new})
    print(f"{len(old)} suite workloads of {len(suite_fams)} kernels; {len(new)} new workloads of "
          f"{len(new_fams)} kernels: {', '.join(new_fams)}", flush=True)

    if ns.family_groups:
        arms = grouped_arms(suite, union, new, old, ns.family_groups)
    else:
        per_family = folds(union, "leave_family_out")
        new_alone = [np.array(sorted(new))]  # one fit on the shipped data scores every new kernel
        new_each = [f for f in per_family if set(f.tolist()) & new]  # leave-one-new-kernel-out
        arms = {
            "new kernels, trained on the shipped data only": (union, new_alone, new),
            "new kernels, trained also on the other new kernels": (union, new_each, new),
            "suite leave-family-out, shipped data": (suite, folds(suite, "leave_family_out"),
                                                     {int(i) for i in suite.scored_groups}),
            "suite leave-family-out, + new kernels' workloads": (
                union, [f for f in per_family if set(f.tolist()) & old], old),
        }
    result: dict = {"seeds": list(ns.seeds), "family_groups": ns.family_groups or None,
                    "n_new_workloads": len(new),
                    "new_kernels": new_fams, "n_suite_workloads": len(old), "arms": {},
                    "baselines": {"new kernels": baselines(union, new),
                                  "suite kernels": baselines(union, old)}}
    cache: dict = {}
    for name, (ds, fold_list, keep) in arms.items():
        runs = []
        for seed in ns.seeds:
            # Arms that share a dataset and fold list (grouped mode: the union's one pass scores
            # both the new and the suite kernels) fit it once.
            key = (id(ds), id(fold_list), seed)
            if key not in cache:
                cache[key] = oof(ds, fold_list, seed)
            runs.append(summarize_picks(ds, cache[key], keep))
            print(f"{name}, seed {seed}: {runs[-1]['pick']:.4f} (n={runs[-1]['n']})", flush=True)
        result["arms"][name] = mean_of(runs)
    ns.out.parent.mkdir(exist_ok=True)
    ns.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["baselines"], indent=1))
    print(f"wrote {ns.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
