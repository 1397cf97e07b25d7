"""Hardware transfer (issue #5, part 4): how much of its H100 quality a bundle keeps on other GPUs.

    python benchmarks/hardware_transfer.py --model helion_learned/models/artifacts/triton/cuda_sm90 \\
        --source data/h100 --target data/h200 -o reports/online/transfer.json
    python benchmarks/online_report.py data/online_h100 -o reports/online \\
        --transfer reports/online/transfer.json

Offline, on measured logs: the bundle ranks the configs measured on each target-GPU workload
(the collector measures the same config list for a workload on every GPU: its seeds depend on the
workload, not the hardware). Reported, per target workload and overall:

* ``learned``: the bundle's pick on the target GPU (relative speed to the target's best);
* ``learned_on_source``: the same bundle on the *same workloads* measured on the source GPU: the
  hardware is the only difference between the two (both in-sample for the bundle when the source
  is its training data, so the ratio isolates the hardware, not generalisation);
* ``kept``: learned ÷ learned_on_source (geomean ratio);
* ``source_best_replayed``: the config that was fastest on the source GPU, run on the target
  (what copying autotune results across GPUs would give);
* ``helion_default`` on the target, and the gate: precision/coverage at the bundle's threshold;
* ``recommendation``: let the hardware gate fire on the target only if the learned pick there
  beats Helion's default and keeps at least ``--keep`` (default 0.95) of its source quality.

Those compare each GPU's own config list. ``common`` (:mod:`transfer_common`) cuts every workload
to the configs measured on both GPUs and also cross-fits the model on the source
(leave-shape-out, leave-family-out), so the hardware is the only difference and the workloads are
unseen: that is the section the verdict should come from. ``-o X.json`` also writes ``X.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # transfer_common, transfer_report
from transfer_common import workload_key


def transfer(bundle: Any, source: Any, target: Any, *, keep: float = 0.95) -> dict[str, Any]:
    from helion_learned.training.evaluate import group_outcomes
    from helion_learned.training.evaluate import origin_rel
    from helion_learned.training.evaluate import summarize

    def picks(ds: Any) -> dict[tuple[str, str, str], tuple[float, Any, float]]:
        scores = bundle.score_rows(ds.X, ds.row_expert_keys(), ds.row_group)
        out = {}
        for o in group_outcomes(ds, scores, within=bundle.within):
            g = ds.groups[o.group]
            conf = float(bundle.calibrator.predict(o.conf_features)[0])
            out[workload_key(g)] = (o.rel_pick, g, conf)
        return out

    on_target, on_source = picks(target), picks(source)
    rows = []
    for key, (rel, g, conf) in sorted(on_target.items()):
        src = on_source.get(key)
        replayed = math.nan
        if src is not None:  # the source's fastest config, looked up among the target's
            sg = src[1]
            best_id = sg.config_ids[int(np.argmax(sg.rel))]
            if best_id in g.config_ids:
                replayed = float(g.rel[g.config_ids.index(best_id)])
        rows.append({"family": g.family, "input_shapes": g.input_shapes, "dtypes": g.dtypes,
                     "hardware": g.hardware, "learned": rel,
                     "learned_on_source": src[0] if src else math.nan,
                     "source_best_replayed": replayed,
                     "helion_default": origin_rel(g, "helion_default"), "confidence": conf})
    col = {k: [r[k] for r in rows] for k in ("learned", "learned_on_source",
                                             "source_best_replayed", "helion_default")}
    matched = [r for r in rows if not math.isnan(r["learned_on_source"])]
    kept = (summarize([r["learned"] for r in matched])["geomean"]
            / summarize([r["learned_on_source"] for r in matched])["geomean"]
            if matched else math.nan)
    conf = np.array([r["confidence"] for r in rows])
    hits = np.array([r["learned"] >= 1 / (1 + bundle.within) for r in rows])
    fired = conf >= bundle.threshold
    learned, default = summarize(col["learned"]), summarize(col["helion_default"])
    fire_ok = (not math.isnan(kept) and kept >= keep
               and learned["geomean"] > default["geomean"])
    data = bundle.metadata.get("training_data") or {}
    return {
        "bundle": {"name": bundle.name, "threshold": bundle.threshold,
                   "fingerprint": data.get("fingerprint"),
                   # Every GPU whose logs trained it (scored and --extra-logs rows).
                   "trained_on": sorted({*data.get("hardware", []),
                                         *(data.get("training_only") or {}).get("hardware", [])})},
        "source_hardware": sorted({g.hardware for g in source.groups}),
        "target_hardware": sorted({g.hardware for g in target.groups}),
        "n_target_workloads": len(rows), "n_matched": len(matched),
        **{k: summarize(v) for k, v in col.items()},
        "kept": kept,
        "threshold": {"value": bundle.threshold, "coverage": float(fired.mean()) if rows else 0.0,
                      "precision": float(hits[fired].mean()) if fired.any() else math.nan},
        "recommendation": {
            "fire_on_target": bool(fire_ok),
            "rule": f"learned geomean on the target > Helion default there, and kept >= {keep}"},
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    from online_plots import transfer_families
    from transfer_common import common_transfer
    from transfer_common import load_dataset
    from transfer_report import markdown

    from helion_learned.models.bundle import ModelBundle
    from helion_learned.training.report.render import jsonable

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="bundle directory")
    p.add_argument("--source", type=Path, nargs="+", required=True,
                   help="logs of the GPU the bundle was trained for (e.g. data/h100)")
    p.add_argument("--target", type=Path, nargs="+", required=True,
                   help="logs of the other GPU (e.g. data/h200)")
    p.add_argument("--keep", type=float, default=0.95)
    p.add_argument("--min-common", type=int, default=8,
                   help="fewest configs both GPUs measured for a workload to count (default 8)")
    p.add_argument("-o", "--out", type=Path, help="JSON to write (default: print); a Markdown "
                   "table (.md) and a per-family plot (_families.png) go beside it")
    args = p.parse_args(argv)

    bundle = ModelBundle.load(args.model)
    source, target = load_dataset(args.source), load_dataset(args.target)
    result = transfer(bundle, source, target, keep=args.keep)
    result["common"] = common_transfer(bundle, source, target, keep=args.keep,
                                       min_common=args.min_common)
    result["command"] = "python benchmarks/hardware_transfer.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    result = jsonable(result)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        plot = transfer_families(result["common"], ", ".join(result["source_hardware"]),
                                 ", ".join(result["target_hardware"]),
                                 args.out.with_name(args.out.stem + "_families.png"))
        args.out.with_suffix(".md").write_text(markdown(result, plot=plot.name))
    lso = result["common"]["leave_shape_out"]
    brief = {k: result[k] for k in ("target_hardware", "n_target_workloads", "n_matched")}
    brief.update({"common_pairs": result["common"]["n_pairs"],
                  "leave_shape_out_kept": lso["kept"], "fire_on_target": lso["fire_on_target"]})
    print(json.dumps(brief, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
