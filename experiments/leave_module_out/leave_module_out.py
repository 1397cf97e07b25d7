"""How much of leave-family-out comes from a held-out kernel's near relatives?

    python experiments/leave_module_out/leave_module_out.py

Leave-family-out holds out one kernel at a time (a family is a Helion kernel name). With 72
kernels in the training data, a held-out kernel often has a near relative that still trains:
``matmul_nt`` and ``matmul_tn`` when ``matmul`` is held out, ``causal_attention`` for
``attention``, ``softmax_backward`` for ``softmax``. The suite groups its kernels by structure,
one module each (``training/suite/gemm.py``, ``attention.py``, ``norms.py``, ...: 17 modules);
*leave-module-out* holds out a whole module at once, so no kernel of the same structure group
trains. Same data as ``experiments/new_kernel_training`` (the shipped training data plus
``data/h100_new``'s new kernels; H200 logs training-only), the bundle's hyperparameters and
experts, XGBoost seeds 0-2. Writes ``report/result.json`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "experiments" / "new_kernel_training"))

import numpy as np  # noqa: E402
from new_kernel_training import load_data  # noqa: E402
from new_kernel_training import oof  # noqa: E402
from new_kernel_training import summarize_picks  # noqa: E402

from helion_learned.training.evaluate import folds  # noqa: E402
from helion_learned.training.suite.registry import SUITE  # noqa: E402

SEEDS = (0, 1, 2)


def module_of_kernel() -> dict[str, str]:
    """Helion kernel name -> the suite module that defines it (its structure group)."""
    out = {}
    for sk in SUITE.values():
        fn = getattr(sk.kernel, "fn", None)
        if fn is not None:
            out[fn.__name__] = fn.__module__.rsplit(".", 1)[-1]
    return out


def module_folds(ds, modules: dict[str, str]) -> tuple[list[np.ndarray], list[str]]:
    """One fold per module: the union of its kernels' leave-family-out folds (which carry their
    training-only twins along). A kernel no module names keeps a fold of its own."""
    per_family = folds(ds, "leave_family_out")
    by_module: dict[str, list[np.ndarray]] = {}
    for fold in per_family:
        fam = str(ds.families[int(fold[0])])
        by_module.setdefault(modules.get(fam, fam), []).append(fold)
    names = sorted(by_module)
    return [np.sort(np.concatenate(by_module[m])) for m in names], names


def main() -> int:
    _suite, union, _suite_fams, new, old = load_data()
    modules = module_of_kernel()
    fold_mod, names = module_folds(union, modules)
    scored = {int(i) for i in union.scored_groups}
    print(f"{len(scored)} workloads, {len(set(union.families[list(scored)].tolist()))} kernels, "
          f"{len(names)} modules: {', '.join(names)}", flush=True)
    arms = {"leave-family-out (one kernel per fold)": folds(union, "leave_family_out"),
            "leave-module-out (one structure module per fold)": fold_mod}
    result: dict = {"seeds": list(SEEDS), "n_workloads": len(scored), "modules": {
        m: sorted({k for k, v in modules.items() if v == m}) for m in names}, "arms": {}}
    for name, fold_list in arms.items():
        runs = []
        for seed in SEEDS:
            scores = oof(union, fold_list, seed)
            run = {part: summarize_picks(union, scores, keep)
                   for part, keep in (("all", scored), ("suite", old), ("new", new))}
            runs.append(run)
            print(f"{name}, seed {seed}: all {run['all']['pick']:.4f}, original 21 "
                  f"{run['suite']['pick']:.4f}, newer {run['new']['pick']:.4f}", flush=True)
        result["arms"][name] = {
            part: {"per_seed": [r[part]["pick"] for r in runs],
                   "mean": float(np.mean([r[part]["pick"] for r in runs]))}
            for part in ("all", "suite", "new")}
        result["arms"][name]["per_family_seed0"] = runs[0]["all"]["per_family"]
    out = Path(__file__).parent / "report" / "result.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
