"""Clean labels: the H100 short-kernel workloads' picks, scored again on CUDA-graph timings.

    python benchmarks/clean_labels.py --source data/h100 --clean data/h200_short_graph \\
        --replicate data/h200_short_graph_rep \\
        --model helion_learned/models/artifacts/triton/cuda_sm90 -o reports/clean_labels

Under Helion's default timer a kernel under ~15 us is launch-bound and its measured winner does
not reproduce (``reports/timing``). ``data/h200_short_graph`` re-measured the *full* config list
of each such H100 workload (best config < 15 us there) on an H200 under CUDA-graph timing, which
does reproduce; ``data/h200_short_graph_rep`` measured part of it a second time. On those
workloads this compares, for every method, two scorings of the same pick:

* ``launch_labels``: relative speed in the H100 log (what ``reports/triton_sm90`` reports);
* ``clean_labels``: relative speed in the H200 graph-timed log (same configs, same workload).

The learned picks are cross-fitted on the H100 logs (leave-shape-out / leave-family-out, the
report's folds): each workload is ranked by a model that never saw it. Two more questions:

* ``training_on_clean_labels``: does training on the clean labels help? Leave-shape-out over the
  clean workloads, a model trained on the H100 logs (``control``) against one whose short-kernel
  workloads come from the graph-timed log instead (``replaced``); same folds, clean scoring;
* ``headline_with_clean_short_labels``: the report's leave-shape-out over all H100 workloads
  with the short ones' labels taken from the graph-timed log (two GPUs in one dataset: a what-if).

Caveat: the clean labels are an H200's and the launch labels an H100's (both sm90); a kernel's
ranking also moves with the GPU. ``replicate`` (winner kept between two graph-timed runs) bounds
the noise of the clean labels themselves. Writes ``summary.json``, ``report.md`` and
``picks.png`` to ``-o``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # transfer_common, timing_protocol
import transfer_common as tc
from timing_protocol import compare
from timing_protocol import load_run
from timing_protocol import summarize as summarize_runs
from timing_protocol import write_report

METHODS = ("learned_leave_shape_out", "learned_leave_family_out", "helion_default", "random_8",
           "h100_winner", "clean_winner")


def _pick(scores: np.ndarray, rel: np.ndarray, mask: np.ndarray) -> float:
    from helion_learned.features.feasibility import pick_index

    return float(rel[pick_index(scores, mask)])


def pick_rows(source: Any, clean: Any, plist: list[tc.Pair], params: dict[str, Any]
              ) -> list[dict[str, Any]]:
    """Per workload: every method's pick, scored on the launch labels and on the clean ones."""
    from helion_learned.training.evaluate import expected_best_of_random

    scored = {p: tc.cross_fitted_scores(source, clean, plist, p, params)
              for p in ("leave_shape_out", "leave_family_out")}
    rows = []
    for p in plist:
        # pair_outcome scores each GPU's pick (the model ranks that GPU's own features) on that
        # GPU's labels: source = the launch-timed log, target = the graph-timed one.
        out = {protocol: tc.pair_outcome(source, clean, p, src, tgt)
               for protocol, (src, tgt) in scored.items()}
        first = out["leave_shape_out"]
        sg, cg = source.groups[p.source], clean.groups[p.target]
        rel_launch = tc.subset_rel(sg.perf_ms[p.src_idx])
        row: dict[str, Any] = {"family": cg.family, "input_shapes": cg.input_shapes,
                               "n_configs": first["n_common"],
                               "best_us_launch": float(np.nanmin(sg.perf_ms[p.src_idx]) * 1e3),
                               "best_us_clean": float(np.nanmin(cg.perf_ms[p.tgt_idx]) * 1e3)}
        for protocol, o in out.items():
            row[f"learned_{protocol}_launch"] = o["learned_on_source"]
            row[f"learned_{protocol}_clean"] = o["learned_on_target"]
        row["helion_default_launch"] = first["helion_default_source"]
        row["helion_default_clean"] = first["helion_default_target"]
        row["random_8_launch"] = expected_best_of_random(rel_launch, 8)
        row["random_8_clean"] = expected_best_of_random(
            tc.subset_rel(cg.perf_ms[p.tgt_idx]), 8)
        row["h100_winner_launch"] = float(np.max(rel_launch))
        row["h100_winner_clean"] = first["source_best_replayed"]
        # The config that is fastest under clean timing, scored on the launch labels: what a
        # picker that knew the true ranking would score on them (the labels' own ceiling).
        rel_clean = tc.subset_rel(cg.perf_ms[p.tgt_idx])
        row["clean_winner_launch"] = float(rel_launch[int(np.argmax(rel_clean))])
        row["clean_winner_clean"] = 1.0
        rows.append(row)
    return rows


def label_ceiling(rows: list[dict[str, Any]], n_source: int) -> dict[str, Any]:
    """How high the report's leave-shape-out geomean over all ``n_source`` workloads can go on
    the launch labels, if every short pick were the clean winner and every other pick perfect."""
    launch = np.clip([r["clean_winner_launch"] for r in rows], 1e-3, None)
    return {"n_short": len(rows), "n_workloads": n_source,
            "clean_winner_on_launch_geomean": float(np.exp(np.mean(np.log(launch)))),
            "geomean_if_the_rest_were_perfect": float(np.exp(np.sum(np.log(launch)) / n_source))}


def training_on_clean_labels(source: Any, clean: Any, plist: list[tc.Pair],
                             params: dict[str, Any]) -> dict[str, Any]:
    from helion_learned.training.evaluate import summarize

    held = {p.source for p in plist}
    held_keys = {tc.workload_key(source.groups[i]) for i in held}
    # Training-only twins of the short workloads go too: their labels are not the clean ones.
    long_only = source.subset([i for i, g in enumerate(source.groups) if i not in held and (
        source.is_scored(i) or tc.workload_key(g) not in held_keys)])
    out = {}
    for name, (src, with_clean) in {"control": (source, False),
                                    "replaced": (long_only, True)}.items():
        # No pairs: only the clean workloads' scores are read (the folds come from them).
        _, tgt = tc.joint_scores(src, clean, [], params, with_target=with_clean)
        out[name] = summarize([
            _pick(tgt[clean.rows(p.target)][p.tgt_idx],
                  tc.subset_rel(clean.groups[p.target].perf_ms[p.tgt_idx]),
                  clean.groups[p.target].feasible[p.tgt_idx]) for p in plist])
    return out


def headline_with_clean_short_labels(source: Any, clean: Any, plist: list[tc.Pair],
                                     params: dict[str, Any], paths: list[Path],
                                     extra: Any = None) -> dict[str, Any]:
    from helion_learned.training import timer_split
    from helion_learned.training.evaluate import group_outcomes
    from helion_learned.training.evaluate import oof_scores
    from helion_learned.training.evaluate import summarize

    short = {tc.workload_key(source.groups[p.source]) for p in plist}
    clean_ids = {g.run_id for g in clean.groups}
    # Clean labels of the same GPU (data/h100_graph) share the run_ids under the other timer:
    # the graph-timed group replaces its launch-timed twin (`--prefer-timer`).
    both, _ = timer_split.load_preferring(paths, "cudagraph", lambda p, _part: tc.load_dataset(p))
    keep = [i for i, g in enumerate(both.groups)
            if g.run_id in clean_ids or tc.workload_key(g) not in short]
    ds = both.subset(keep)
    if extra is not None:
        # A clean short workload can be the very run an extra folder also holds (same Helion
        # run_id: one workload, one GPU, one timer); it is scored here, so it does not train too.
        ids = {g.run_id for g in ds.groups}
        ds = ds.with_training_only(extra.subset(
            [i for i, g in enumerate(extra.groups) if g.run_id not in ids]))
    outcomes = group_outcomes(ds, oof_scores(ds, "leave_shape_out", params, n_jobs=2))
    part = {"all": outcomes,
            "short_clean": [o for o in outcomes if ds.groups[o.group].run_id in clean_ids],
            "rest_h100": [o for o in outcomes if ds.groups[o.group].run_id not in clean_ids]}
    return {k: summarize([o.rel_pick for o in v]) for k, v in part.items()}


def replicate(clean_dir: Path, rep_dir: Path) -> dict[str, Any]:
    a, b = load_run(clean_dir), load_run(rep_dir)
    rows = [{"family": k[0], "shape": list(k[1]), **r} for k in sorted(set(a) & set(b))
            if (r := compare(a[k], b[k])) is not None]
    return {**summarize_runs(rows), "rows": rows}


def study(args: argparse.Namespace) -> dict[str, Any]:
    from helion_learned.models.bundle import ModelBundle
    from helion_learned.training.evaluate import summarize

    bundle = ModelBundle.load(args.model)
    source, clean = tc.load_dataset(args.source), tc.load_dataset(args.clean)
    if args.families:
        wanted = set(args.families.split(","))
        clean = clean.subset([i for i, g in enumerate(clean.groups) if g.family in wanted])
    plist = tc.pairs(source, clean, min_common=args.min_common)
    if not plist:
        raise ValueError(f"no workload of {args.clean} is also in {args.source} with "
                         f">= {args.min_common} common configs. Fix: collect --clean from a "
                         "replay plan of --source (training.collect.replay --max-best-ms)")
    params = {**(bundle.metadata.get("model_params") or {}), "n_jobs": 2}
    extra = tc.load_training_only(args.extra) if args.extra else None
    # As `train --extra-logs`: the other GPU's rows train every fold's model, a held-out
    # workload's twins are held out with it, only --source workloads are scored. Scored groups
    # come first, so the pairs' indices into --source stay valid.
    source = source.with_training_only(extra) if extra is not None else source
    rows = pick_rows(source, clean, plist, params)
    picks = {m: {lab: summarize([r[f"{m}_{lab}"] for r in rows]) for lab in ("launch", "clean")}
             for m in METHODS}
    out: dict[str, Any] = {
        "source": [str(p) for p in args.source], "clean": [str(p) for p in args.clean],
        "source_hardware": sorted({source.groups[p.source].hardware for p in plist}),
        "clean_hardware": sorted({clean.groups[p.target].hardware for p in plist}),
        "n_workloads": len(rows), "picks": picks,
        "training_on_clean_labels": training_on_clean_labels(source, clean, plist, params),
    }
    if not args.skip_headline:
        out["headline_with_clean_short_labels"] = headline_with_clean_short_labels(
            source, clean, plist, params, [*args.source, *args.clean], extra)
    if args.replicate:
        out["replicate"] = replicate(args.clean[0], args.replicate)
        out["replicate_source"] = str(args.replicate)
    out["label_ceiling"] = label_ceiling(rows, len(source.scored_groups))
    out["training_only"] = [str(p) for p in args.extra or []]
    out["per_family"] = tc.per_family_geomeans(rows, [f"{m}_{lab}" for m in METHODS[:3]
                                                      for lab in ("launch", "clean")])
    out["rows"] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", nargs="+", type=Path, required=True,
                   help="launch-timed logs the bundle was trained on (data/h100)")
    p.add_argument("--clean", nargs="+", type=Path, required=True,
                   help="graph-timed logs of the same workloads (data/h200_short_graph)")
    p.add_argument("--replicate", type=Path, help="a second graph-timed run of --clean")
    p.add_argument("--model", type=Path, required=True, help="bundle (its hyperparameters)")
    p.add_argument("--extra", nargs="+", type=Path, default=[],
                   help="training-only logs, as the bundle's `train --extra-logs` (data/h200 ...)")
    p.add_argument("--families", help="comma-separated families only (quick runs, tests)")
    p.add_argument("--min-common", type=int, default=8)
    p.add_argument("--skip-headline", action="store_true",
                   help="skip the 176-workload leave-shape-out what-if (~30 s)")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        result = study(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from clean_labels_report import render

    write_report(result, args.out, render)
    for m, s in result["picks"].items():
        print(f"{m:26s} launch labels {s['launch']['geomean']:.3f}  "
              f"clean labels {s['clean']['geomean']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
