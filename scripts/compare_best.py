"""Best measured time of shared workloads in two dataset folders, per family (data/README.md).

    python scripts/compare_best.py data/h200_graph data/h200_explore

Prints, per family, the geomean / min / max of (best in the first folder ÷ best in the second)
over the workloads both hold (matched on family, shapes and dtypes): > 1 means the second
folder's config list found faster configs.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from helion_learned.training.dataset import Group
from helion_learned.training.dataset import build_dataset
from helion_learned.training.logs import load_logs


def best_by_workload(folder: str) -> dict[tuple[str, str, str], Group]:
    return {(g.family, g.input_shapes, g.dtypes): g for g in build_dataset(load_logs([folder])).groups}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("first")
    p.add_argument("second")
    args = p.parse_args()
    first, second = best_by_workload(args.first), best_by_workload(args.second)
    ratios: dict[str, list[float]] = defaultdict(list)
    for key, g in second.items():
        if key in first:
            ratios[g.family].append(first[key].best_ms / g.best_ms)
    print("| family | workloads in both | geomean | min | max |\n|---|---:|---:|---:|---:|")
    for family, v in sorted(ratios.items()):
        r = np.array(v)
        print(f"| {family} | {len(r)} | {np.exp(np.log(r).mean()):.2f}× | {r.min():.2f}× | "
              f"{r.max():.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
