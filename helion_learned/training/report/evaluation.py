"""Assemble the evaluation results (a JSON-able dict) that the report renders."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...models.bundle import ModelBundle
from ...models.calibration import DEFAULT_GATE
from ...models.calibration import choose_threshold
from ...models.kernel_experts import EXPERT_PARAMS
from ...models.kernel_experts import EXPERT_WEIGHT
from ...models.kernel_experts import NEIGHBOUR_WEIGHT
from ..dataset import Dataset
from ..evaluate import GroupOutcome
from ..evaluate import expected_best_of_random
from ..evaluate import folds
from ..evaluate import group_outcomes
from ..evaluate import nearest_neighbour_rel
from ..evaluate import oof_scores
from ..evaluate import origin_rel
from ..evaluate import summarize
from ..train import cross_fitted_confidence
from ..train import fired_summary

METHODS = ("learned", "helion_default", "helion_heuristic", "random_1", "random_8",
           "nearest_neighbour", "oracle")
Progress = Callable[[str, int, int], None]
# Best-config time buckets (us). Under Helion's default timer a kernel below ~15 us is
# launch-bound and its measured winner does not reproduce run to run (reports/timing: a second
# run's winner keeps 0.83-0.85 there, 0.98-1.00 above), so its labels carry that much noise.
RUNTIME_BUCKETS = ((0.0, 15.0, "< 15 us"), (15.0, 100.0, "15-100 us"),
                   (100.0, math.inf, ">= 100 us"))


def _group_rows(ds: Dataset, outcomes: list[GroupOutcome], conf: np.ndarray,
                nn: dict[int, float]) -> list[dict[str, Any]]:
    rows = []
    for o, c in zip(outcomes, conf, strict=True):
        g = ds.groups[o.group]
        rows.append({
            "run_id": g.run_id, "family": g.family, "input_shapes": g.input_shapes,
            "dtypes": g.dtypes, "hardware": g.hardware, "n_configs": len(g.configs),
            "best_ms": g.best_ms, "confidence": float(c), "hit": o.hit, "safe": o.safe,
            "kendall_tau": o.kendall_tau, "top5": o.rel_top5,
            "pick": g.configs[o.pick],
            "rel": {
                "learned": o.rel_pick,
                # What Helion runs with autotuning off (its heuristics' promoted seed, if any).
                "helion_default": origin_rel(g, "helion_effective_default"),
                # The first seed of Helion's own hand-written heuristics, where one fired.
                "helion_heuristic": origin_rel(g, "heuristic_rank0"),
                "random_1": expected_best_of_random(g.rel, 1),
                "random_8": expected_best_of_random(g.rel, 8),
                "nearest_neighbour": nn.get(o.group, math.nan),
                "oracle": 1.0,
            },
            "learned_bind_time": o.rel_bind_pick,
        })
    return rows


def vs_default(rows: list[dict[str, Any]], *, within: float = 0.05) -> dict[str, Any]:
    """The learned pick against Helion's default on the same workloads (what a user risks by
    taking the pick instead of the default: ``install(threshold=0)``)."""
    pairs = [(r["rel"]["learned"], r["rel"]["helion_default"]) for r in rows
             if r["rel"]["helion_default"] == r["rel"]["helion_default"]]
    ratios = [lp / d for lp, d in pairs if d > 0]
    return {"n": len(pairs),
            "slower": sum(lp < d / (1 + within) for lp, d in pairs),
            "faster": sum(lp > d * (1 + within) for lp, d in pairs),
            "worst_ratio": min(ratios) if ratios else math.nan, "within": within}


def _threshold_curve(conf: np.ndarray, hits: np.ndarray) -> list[dict[str, float]]:
    curve = []
    for t in np.linspace(0.0, 1.0, 41):
        fired = conf >= t
        curve.append({"threshold": float(t), "coverage": float(fired.mean()) if conf.size else 0.0,
                      "precision": float(hits[fired].mean()) if fired.any() else math.nan})
    return curve


def _calibration_bins(conf: np.ndarray, hits: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in itertools.pairwise(edges):
        m = (conf >= lo) & ((conf < hi) if hi < 1 else (conf <= hi))
        if m.any():
            out.append({"confidence": float(conf[m].mean()), "hit_rate": float(hits[m].mean()),
                        "n": int(m.sum())})
    return out


def _summaries(rows: list[dict[str, Any]]) -> dict[str, Any]:
    overall = {m: summarize([r["rel"][m] for r in rows]) for m in METHODS}
    per_family: dict[str, Any] = {}
    for fam in sorted({r["family"] for r in rows}):
        fam_rows = [r for r in rows if r["family"] == fam]
        per_family[fam] = {m: summarize([r["rel"][m] for r in fam_rows]) for m in METHODS}
    both = [r for r in rows if r["rel"]["helion_heuristic"] == r["rel"]["helion_heuristic"]]
    overall["learned_where_heuristic_fires"] = summarize([r["rel"]["learned"] for r in both])
    # What a user gets at bind time: the adapter ranks our grid and Helion's configs, not the
    # random ones the logs also measured (NaN rows, logs without origins, are dropped).
    overall["learned_bind_time_candidates"] = summarize([r["learned_bind_time"] for r in rows])
    per_runtime = {}
    for lo, hi, label in RUNTIME_BUCKETS:
        sel = [r for r in rows if lo <= r["best_ms"] * 1e3 < hi]
        if sel:
            per_runtime[label] = {m: summarize([r["rel"][m] for r in sel]) for m in METHODS}
    return {"overall": overall, "per_family": per_family, "per_runtime": per_runtime}


def evaluate_protocol(ds: Dataset, protocol: str, *, params: dict[str, Any], within: float,
                      wrong_budget: float, n_jobs: int, seed: int = 0, experts: bool = True,
                      progress: Progress | None = None) -> dict[str, Any]:
    def fold_progress(i: int, n: int) -> None:
        if progress:
            progress(protocol, i, n)

    scores = oof_scores(ds, protocol, params, n_jobs=n_jobs, seed=seed, experts=experts,
                        progress=fold_progress)
    outcomes = group_outcomes(ds, scores, within=within)
    conf = cross_fitted_confidence(outcomes, seed=seed)
    nn: dict[int, float] = {}
    if protocol == "leave_shape_out":
        # The baseline picks from the scored logs' shapes only (as without training-only logs).
        scored = ds.scored_groups
        for test in folds(ds, protocol, seed=seed):
            train = np.setdiff1d(scored, test)
            for t in np.intersect1d(test, scored):
                nn[int(t)] = nearest_neighbour_rel(ds, int(t), train)
    return _protocol_result(ds, outcomes, conf, nn, wrong_budget=wrong_budget)


def evaluate_bundle(ds: Dataset, bundle: ModelBundle) -> dict[str, Any]:
    """Held-out evaluation of a trained bundle on logs it did not train on."""
    scores = bundle.score_rows(ds.X, ds.row_expert_keys(bundle.kernel_key), ds.row_group)
    outcomes = group_outcomes(ds, scores, within=bundle.within)
    conf = (bundle.calibrator.predict(np.stack([o.conf_features for o in outcomes]))
            if outcomes else np.empty(0))
    # Each workload against the threshold the adapter would use for its kernel.
    per_group = np.array([bundle.threshold_for(bundle.kernel_key(ds.groups[o.group].facts))
                          for o in outcomes])
    return _protocol_result(ds, outcomes, conf, {}, wrong_budget=float(
        bundle.metadata.get("wrong_budget", 0.05)), fixed_threshold=bundle.threshold,
        per_group_threshold=per_group)


# Repeats of the 5-way split behind held_out_threshold: enough that the pooled precision moves
# by less than a point between seeds of the splits.
HELD_OUT_REPEATS = 20


def held_out_threshold(outcomes: list[GroupOutcome], conf: np.ndarray, *, wrong_budget: float,
                       n_splits: int = 5, repeats: int = HELD_OUT_REPEATS, seed: int = 0,
                       fallback: np.ndarray | None = None) -> dict[str, float]:
    """The gate's precision on workloads its threshold was not chosen on.

    Why: the shipped threshold is the lowest one whose fired picks meet the budget on these very
    outcomes, so its precision there (often 100 % of a handful) is optimistic. Here the
    threshold is chosen on 4/5 of the workloads and fired on the other 1/5, over ``repeats``
    random splits; fired picks are pooled. The confidences are already cross-fitted.

    ``fallback``: per workload, the relative speed of what runs where the gate abstains
    (Helion's default); adds ``behind_gate_geomean``, the mean over the splits of the geomean a
    user gets (the pick where the gate fires, the fallback elsewhere), and ``delivered``: that
    geomean, the worst workload over all splits, and the share of workloads where it is more
    than the gate's slowdown limit slower than the fallback (mean over the splits)."""
    hits = np.array([o.hit for o in outcomes], dtype=bool)
    safe = np.array([o.safe for o in outcomes], dtype=bool)
    n = len(outcomes)
    if n < n_splits:
        return {"precision": math.nan, "coverage": math.nan, "max_slowdown": math.nan,
                "n_fired": 0, "repeats": 0}
    rng = np.random.default_rng(seed)
    times_fired = np.zeros(n, dtype=int)  # per workload, over all splits
    picks = np.array([o.rel_pick for o in outcomes])
    gated_geomeans, gated_worst, slower_shares = [], [], []
    slow = 1.0 + DEFAULT_GATE.slowdown_limit
    for _ in range(repeats):
        fold = rng.permutation(n) % n_splits
        fired = np.zeros(n, dtype=bool)
        for f in range(n_splits):
            test = fold == f
            limit = choose_threshold(conf[~test], safe[~test], wrong_budget=wrong_budget).threshold
            fired |= test & (conf >= limit)
        times_fired += fired
        if fallback is not None:
            gated = np.where(fired, picks, fallback)
            gated_geomeans.append(summarize(gated)["geomean"])
            gated_worst.append(float(np.nanmin(gated)))
            known = fallback == fallback
            slower_shares.append(float(np.mean(gated[known] < fallback[known] / slow))
                                 if known.any() else math.nan)
    total = int(times_fired.sum())
    out = {"precision": int(times_fired[hits].sum()) / total if total else math.nan,
           "not_slower_share": int(times_fired[safe].sum()) / total if total else math.nan,
           "coverage": total / (n * repeats),
           "max_slowdown": fired_summary(outcomes, times_fired > 0)["max_slowdown"],
           "n_fired": total, "repeats": repeats}
    if gated_geomeans:
        out["behind_gate_geomean"] = float(np.mean(gated_geomeans))
        out["delivered"] = {"autotune_off_geomean": float(np.mean(gated_geomeans)),
                            "autotune_off_worst": float(np.min(gated_worst)),
                            "slower_than_default_5pct_share": float(np.mean(slower_shares)),
                            "coverage": out["coverage"]}
    return out


def _protocol_result(ds: Dataset, outcomes: list[GroupOutcome], conf: np.ndarray,
                     nn: dict[int, float], *, wrong_budget: float,
                     fixed_threshold: float | None = None,
                     per_group_threshold: np.ndarray | None = None) -> dict[str, Any]:
    safe = np.array([o.safe for o in outcomes], dtype=bool)
    if fixed_threshold is None:
        choice = choose_threshold(conf, safe, wrong_budget=wrong_budget)
        threshold = choice.threshold
    else:
        threshold = fixed_threshold
    limits = np.full(len(outcomes), threshold) if per_group_threshold is None else per_group_threshold
    fired = conf >= limits
    rows = _group_rows(ds, outcomes, conf, nn)
    result = _summaries(rows)
    # What install() gives by default: the pick where the gate fires, Helion's default elsewhere.
    fallback = np.array([r["rel"]["helion_default"] for r in rows], dtype=np.float64)
    picks = np.array([o.rel_pick for o in outcomes], dtype=np.float64)
    result["overall"]["learned_behind_gate"] = summarize(np.where(fired, picks, fallback))
    result["vs_default"] = vs_default(rows)
    result.update({
        "n_groups": len(outcomes),
        "top1_geomean": summarize(picks)["geomean"],
        "top5_geomean": summarize([o.rel_top5 for o in outcomes])["geomean"],
        "kendall_tau_mean": float(np.nanmean([o.kendall_tau for o in outcomes])) if outcomes else math.nan,
        "threshold": {
            "value": float(threshold),
            **fired_summary(outcomes, fired),
            "n_fired": int(fired.sum()),
            "fired": summarize([o.rel_pick for o, f in zip(outcomes, fired, strict=True) if f]),
            # Only where the threshold is chosen here (not a bundle's fixed one being checked).
            **({"held_out": held_out_threshold(outcomes, conf, wrong_budget=wrong_budget,
                                               fallback=fallback)}
               if fixed_threshold is None else {}),
        },
        # The gate's own terms: fired picks not slower than the fallback beyond its limit, and
        # how often what the confidence predicts (not slower beyond the margin) came true.
        "curve": _threshold_curve(conf, safe),
        "calibration": _calibration_bins(conf, np.array([o.gate_hit for o in outcomes],
                                                        dtype=bool)),
        "groups": rows,
    })
    return result


def seed_stability(ds: Dataset, protocols: Mapping[str, Any], *, params: dict[str, Any],
                   within: float, n_jobs: int, seed: int, n_seeds: int, experts: bool = True,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Learned geomean under ``n_seeds`` XGBoost seeds (random_state r, r+1, ...; same folds):
    on 21 kernels one seed's leave-family-out number can be off by ~0.1, so report the spread."""
    base_seed = int(params.get("random_state", 0))
    out: dict[str, Any] = {}
    for name, res in protocols.items():
        geos = [float(res["overall"]["learned"]["geomean"])]
        for k in range(1, n_seeds):
            if progress:
                progress(f"{name} seed {base_seed + k}", k, n_seeds - 1)
            scores = oof_scores(ds, name, {**params, "random_state": base_seed + k},
                                n_jobs=n_jobs, seed=seed, experts=experts)
            geos.append(summarize([o.rel_pick for o in group_outcomes(ds, scores,
                                                                       within=within)])["geomean"])
        out[name] = {"model_seeds": [base_seed + k for k in range(n_seeds)], "geomeans": geos,
                     "mean": float(np.mean(geos)), "sd": float(np.std(geos))}
    return out


def evaluate_dataset(ds: Dataset, *, params: dict[str, Any], within: float = 0.05,
                     wrong_budget: float = 0.05, n_jobs: int = 2, seed: int = 0,
                     stability_seeds: int = 1, experts: bool = True,
                     progress: Progress | None = None) -> dict[str, Any]:
    """Both CV protocols (leave-family-out needs 2+ families) plus dataset facts; with
    ``stability_seeds`` > 1 also the learned geomean under that many model seeds."""
    common = {"params": params, "within": within, "wrong_budget": wrong_budget,
              "n_jobs": n_jobs, "seed": seed, "experts": experts, "progress": progress}
    protocols = {"leave_shape_out": evaluate_protocol(ds, "leave_shape_out", **common)}
    if len(set(ds.families.tolist())) >= 2:
        protocols["leave_family_out"] = evaluate_protocol(ds, "leave_family_out", **common)
    stability = (seed_stability(ds, protocols, params=params, within=within, n_jobs=n_jobs,
                                seed=seed, n_seeds=stability_seeds, experts=experts,
                                progress=progress)
                 if stability_seeds > 1 else {})
    scored = ds.scored_summary()
    return {
        "seed_stability": stability,
        "dataset": {
            "fingerprint": ds.fingerprint(), "n_groups": scored["n_workloads"],
            "n_rows": scored["n_rows"], "families": scored["families"],
            "hardware": scored["hardware"], "dropped": ds.dropped,
            "training_only": ds.training_only_summary(),
        },
        "within": within, "wrong_budget": wrong_budget, "params": params,
        "kernel_experts": {"enabled": experts, "weight": EXPERT_WEIGHT,
                           "neighbour_weight": NEIGHBOUR_WEIGHT,
                           "params": dict(EXPERT_PARAMS)} if experts else {"enabled": False},
        "protocols": protocols,
    }


def _target(name: str, goal: float, value: float | None, *, higher_is_better: bool = True) -> dict:
    ok = value is not None and value == value and (value >= goal if higher_is_better else value <= goal)
    return {"name": name, "target": goal, "value": value, "met": bool(ok)}


def issue_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The quality targets of the shipped triton model (issue #4), measured on ``result``."""
    lso = result["protocols"].get("leave_shape_out", {})
    lfo = result["protocols"].get("leave_family_out", {})
    learned = lso.get("overall", {}).get("learned", {})
    thr = lso.get("threshold", {})
    delivered = (thr.get("held_out") or {}).get("delivered") or {}
    per_family = lso.get("per_family", {})
    losing = sum(1 for stats in per_family.values()
                 if stats["learned"]["geomean"] < stats["helion_default"]["geomean"])
    both = lso.get("overall", {}).get("learned_where_heuristic_fires", {}).get("geomean")
    heur = lso.get("overall", {}).get("helion_heuristic", {}).get("geomean")
    unseen = lfo.get("overall", {}).get("learned", {}).get("geomean")
    # Unseen kernels first (issue #29): users tune their own kernels, not ours.
    return [
        _target("leave-family-out geomean (unseen kernels)", 0.95, unseen),
        _target("leave-shape-out − leave-family-out geomean", 0.02,
                None if unseen is None or learned.get("geomean") is None
                else learned["geomean"] - unseen, higher_is_better=False),
        _target("leave-shape-out geomean", 0.97, learned.get("geomean")),
        _target("leave-shape-out p10", 0.90, learned.get("p10")),
        # Issue #30: what install() delivers with autotuning off, on held-out workloads.
        _target("autotune off (pick behind the gate, else Helion's default), held out", 0.95,
                delivered.get("autotune_off_geomean")),
        _target("workloads not > 5 % slower than Helion's default, autotune off, held out", 0.95,
                None if delivered.get("slower_than_default_5pct_share") is None
                else 1.0 - delivered["slower_than_default_5pct_share"]),
        _target("precision at default threshold (within 5 % of best; reported, not the gate)",
                0.90, thr.get("precision")),
        _target("precision, threshold chosen on other workloads", 0.90,
                (thr.get("held_out") or {}).get("precision")),
        _target("coverage at default threshold", 0.70, thr.get("coverage")),
        _target("max slowdown among fired picks", 1.25, thr.get("max_slowdown"),
                higher_is_better=False),
        _target("families where learned < Helion default", 0, losing, higher_is_better=False),
        _target("learned − Helion heuristic geomean (where it fires)", 0.0,
                None if both is None or heur is None else both - heur),
        _target("retrain seconds (2 cores)", 60.0, result.get("train_seconds"),
                higher_is_better=False),
    ]
