"""Print the datasheet tables of a collected dataset (data/README.md) as Markdown.

    python scripts/datasheet_tables.py data/h100

Counts per kernel (workloads / configs measured / ok), the drift-control noise per collection
mode, and the sanity table (speed of Helion's configs relative to the best known, per family).
Every number comes from the files; run it after each collection round and paste the output.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from helion_learned.training.dataset import build_dataset
from helion_learned.training.evaluate import origin_rel
from helion_learned.training.evaluate import summarize
from helion_learned.training.logs import load_logs
from helion_learned.training.logs.origins import load_origins


def geomean(values: list[float]) -> float:
    """The reports' geomean (NaN = absent is dropped; a failed config counts as 1000× slower)."""
    return summarize(values)["geomean"]


def control_mode(record: dict) -> str:
    """How many collector processes shared the GPU. Records before the count was logged
    (data/h100, data/h200*, data/h200_cute) only say whether it was shared."""
    if not record.get("gpu_shared"):
        return "one proc/GPU"
    n = record.get("procs_per_device")
    return f"shared GPU ({n} procs/GPU)" if n else "shared GPU (count not logged)"


def control_table(folder: Path) -> list[str]:
    path = folder / "control.jsonl.gz"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in gzip.open(path, "rt") if line.strip()]
    modes: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        modes[control_mode(r)].append(float(r["perf_ms"]))
    out = ["| control mode | n | mean ms | CV | min | max |", "|---|---:|---:|---:|---:|---:|"]
    for mode, v in sorted(modes.items()):
        mean = statistics.fmean(v)
        out.append(f"| {mode} | {len(v)} | {mean:.4f} | {statistics.pstdev(v) / mean:.2%} | "
                   f"{min(v):.4f} | {max(v):.4f} |")
    return out


def suite_families(folder: Path) -> dict[str, str]:
    """run_id -> the collector's suite family (kernel + dtype), from the facts sidecars."""
    out = {}
    for path in sorted(folder.glob("*.facts.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            for line in f:
                record = json.loads(line)
                family = (record.get("workload") or {}).get("family")
                if family:
                    out[record["run_id"]] = family
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    args = p.parse_args(argv)
    logset = load_logs([args.folder])
    ds = build_dataset(logset, origins=load_origins(logset.files))
    families = suite_families(args.folder)
    per: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sanity: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for g in ds.groups:
        kernel = g.family
        per[kernel]["workloads"] += 1
        per[kernel]["configs"] += len(g.perf_ms)
        per[kernel]["ok"] += int(np.isfinite(g.perf_ms).sum())
        fam = families.get(g.run_id, f"{g.family} (no facts record)")
        for tag in ("default", "helion_default"):
            sanity[fam][tag].append(origin_rel(g, tag))
        heur = [r for r, o in zip(g.rel, g.origins, strict=True)
                if any(t.startswith("heuristic:") for t in o.split("|"))]
        sanity[fam]["heuristic"].append(max(heur) if heur else math.nan)
    print("| kernel | workloads | configs | ok |\n|---|---:|---:|---:|")
    tot = defaultdict(float)
    for kernel in sorted(per):
        c = per[kernel]
        print(f"| {kernel} | {int(c['workloads'])} | {int(c['configs']):,} | {int(c['ok']):,} |")
        for k, v in c.items():
            tot[k] += v
    print(f"| **total** | **{int(tot['workloads'])}** | **{int(tot['configs']):,}** | "
          f"**{int(tot['ok']):,}** |\n")
    print("\n".join(control_table(args.folder)) + "\n")
    print("| family | workloads | fragment default | Helion default (autotune off) | "
          "best Helion heuristic seed |\n|---|---:|---:|---:|---:|")
    every: dict[str, list[float]] = defaultdict(list)
    for fam in sorted(sanity):
        s = sanity[fam]
        for k, v in s.items():
            every[k].extend(v)
        print(f"| {fam} | {len(s['default'])} | {geomean(s['default']):.3f} | "
              f"{geomean(s['helion_default']):.3f} | {geomean(s['heuristic']):.3f} |")
    print(f"| **all** | {len(every['default'])} | {geomean(every['default']):.3f} | "
          f"{geomean(every['helion_default']):.3f} | {geomean(every['heuristic']):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
