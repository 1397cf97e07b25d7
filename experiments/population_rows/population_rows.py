"""Do Helion search populations, as training-only rows, help the offline protocols?

    python experiments/population_rows/population_rows.py

``benchmarks/search_population.py`` shows that adding the other kernels' search populations to
the training data lifts the model's top-1 *within* a search population of a kernel it never saw
(0.723 -> 0.805). This asks the other half: does the same addition change the offline H100
protocols of the main report (the collector's random + grid candidates of 176 workloads)?

Training data as ``scripts/main.sh`` (``data/h100`` scored, ``data/h200`` and ``data/h200_graph``
training-only), plus all 49 populations (backfilled into a scratch copy, as the benchmark does)
as training-only rows. Leave-family-out holds a family's populations out with it (training-only
groups join their kernel's fold); the populations' shapes are online shapes no scored workload
has, so under leave-shape-out they always train. The global model's out-of-fold scores
(``training.evaluate.oof_scores``, shipped parameters), XGBoost seeds 0-2, folds seed 0.
Writes report/result.json. About 15 minutes on 2 cores.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import search_population as sp  # noqa: E402

from helion_learned.models.ranker import CostModel  # noqa: E402
from helion_learned.training.evaluate import group_outcomes  # noqa: E402
from helion_learned.training.evaluate import oof_scores  # noqa: E402
from helion_learned.training.evaluate import summarize  # noqa: E402

PROTOCOLS = ("leave_family_out", "leave_shape_out")


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="population_rows."))
    pops, _ = sp.collect_populations(scratch, False)
    sets = [got[0] for got in map(sp.load_population, pops) if not isinstance(got, str)]
    parts = sp.training_parts()
    arms = {"shipped training data": sp.training_data(parts),
            "+ 49 search populations": sp.training_data(parts, sets)}
    result: dict = {"populations": len(sets), "seeds": [0, 1, 2], "arms": {}}
    for name, ds in arms.items():
        per = {p: [] for p in PROTOCOLS}
        for seed in result["seeds"]:
            params = {**CostModel().get_params(), "random_state": seed}
            for p in PROTOCOLS:
                outcomes = group_outcomes(ds, oof_scores(ds, p, params, n_jobs=2, seed=0))
                per[p].append(summarize([o.rel_pick for o in outcomes])["geomean"])
                print(f"{name}, seed {seed}, {p}: {per[p][-1]:.4f}", flush=True)
        result["arms"][name] = {p: {"per_seed": v, "mean": float(np.mean(v))}
                                for p, v in per.items()}
    out = Path(__file__).parent / "report" / "result.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
