"""Which part of the model loses suite leave-family-out when the new kernels join training?

    python experiments/new_kernel_training/borrowed_experts.py [--lenders K ...]

For the arms of ``new_kernel_training.py`` that train on the new kernels (suite leave-family-out
and new-kernel leave-kernel-out, XGBoost seeds 0-2) it prints, per seed, the fold models' global
scores alone and blended with the per-kernel experts (the nearest-structure fallback lending a
known kernel's expert to a held-out one), then, for each ``--lenders K``, the blend with only
kernels of at least K workloads lending (``KernelExperts(neighbour_min_workloads=K)``). Writes
report/borrowed_experts.json with per-family geomeans. About 25 minutes on 2 cores with one K.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import new_kernel_training as nk  # noqa: E402

from helion_learned.models.kernel_experts import KernelExperts  # noqa: E402
from helion_learned.models.ranker import CostModel  # noqa: E402
from helion_learned.training import evaluate  # noqa: E402


def _geomeans(ds, scores, keep: set[int]) -> dict:
    out = [o for o in evaluate.group_outcomes(ds, scores) if o.group in keep]
    return {"all": nk.geomean([o.rel_pick for o in out]),
            "per_family": {f: nk.geomean([o.rel_pick for o in out if o.family == f])
                           for f in sorted({o.family for o in out})}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lenders", type=int, nargs="*", default=[5],
                   help="minimum workloads of a kernel that lends its expert (default: 5)")
    ns = p.parse_args(argv)
    _, union, _, new, old = nk.load_data()
    per_family = evaluate.folds(union, "leave_family_out")
    arms = {"suite leave-family-out, + new kernels' workloads":
            ([f for f in per_family if set(f.tolist()) & old], old),
            "new kernels, trained also on the other new kernels":
            ([f for f in per_family if set(f.tolist()) & new], new)}
    result: dict = {"seeds": list(nk.SEEDS), "arms": {}}
    for name, (fold_list, keep) in arms.items():
        arm = result["arms"][name] = {"global": [], "experts": []}
        for seed in nk.SEEDS:
            params = {**CostModel().get_params(), "random_state": seed}
            base, blended = evaluate.oof_score_pair(union, "leave_family_out", params, n_jobs=2,
                                                    fold_list=fold_list)
            arm["global"].append(_geomeans(union, base, keep))
            arm["experts"].append(_geomeans(union, blended, keep))
            print(f"{name}, seed {seed}: global {arm['global'][-1]['all']:.4f}, "
                  f"experts {arm['experts'][-1]['all']:.4f}", flush=True)
        for k in ns.lenders:
            # In-process folds (n_jobs=1) so the patched constructor is the one that runs.
            original = evaluate.KernelExperts
            evaluate.KernelExperts = functools.partial(KernelExperts, neighbour_min_workloads=k)
            try:
                runs = arm[f"experts, lenders >= {k} workloads"] = []
                for seed in nk.SEEDS:
                    params = {**CostModel().get_params(), "random_state": seed}
                    scores = evaluate.oof_scores(union, "leave_family_out", params, n_jobs=1,
                                                 fold_list=fold_list)
                    runs.append(_geomeans(union, scores, keep))
                    print(f"{name}, seed {seed}, lenders >= {k}: {runs[-1]['all']:.4f}",
                          flush=True)
            finally:
                evaluate.KernelExperts = original
    out = HERE / "report" / "borrowed_experts.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
