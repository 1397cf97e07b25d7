"""Hardware transfer on the configs both GPUs measured (used by hardware_transfer.py).

Two GPUs rarely measure exactly the same config list for a workload (Helion's heuristic seeds
depend on the hardware; the H200 rounds replayed about half of each H100 list). Comparing a pick
on one GPU's list with a pick on the other's would mix two effects, so here every workload is cut
to the configs measured on both, relative speeds are recomputed within that common list on each
GPU, and the model ranks the same candidates on both: the hardware is the only difference.

Scorings:

* ``in_sample``: the bundle as shipped (trained on every source workload);
* ``leave_shape_out`` / ``leave_family_out``: cross-fitted on the source with the bundle's own
  hyperparameters (same folds as the offline report): each workload is ranked, on both GPUs, by a
  model that never saw it (or its kernel). This is the number to compare with the report;
* ``joint_leave_shape_out``: trained on both GPUs' logs, each workload held out on both: what
  target-GPU training data buys (the hardware features can then matter);
  ``joint_folds_source_only`` is its control: the same folds, source logs only.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np


def load_dataset(paths: list[Path]) -> Any:
    """Logs (files or folders) -> the training Dataset, with each config's origin tags."""
    from helion_learned.training.dataset import build_dataset
    from helion_learned.training.logs import load_logs
    from helion_learned.training.logs.origins import check_timing
    from helion_learned.training.logs.origins import load_origins
    from helion_learned.training.logs.origins import timing_by_run

    logset = load_logs(paths)
    timers = timing_by_run(logset.files)
    # As train/evaluate do: one workload under both timers would merge into one mixed label.
    if warning := check_timing(logset.files, timers):
        print(f"warning: {warning}", file=sys.stderr)
    return build_dataset(logset, origins=load_origins(logset.files), timers=timers)


def load_training_only(paths: list[Path]) -> Any:
    """Training-only logs, as ``--extra-logs`` loads them: a workload measured under both Helion
    timers trains as one group per timer (``training.timer_split``)."""
    from helion_learned.training import timer_split

    parts = [load_dataset(p) for p in timer_split.timer_parts(paths)]
    return parts[0] if len(parts) == 1 else timer_split.concat(parts)


def workload_key(group: Any) -> tuple[str, str, str]:
    return (group.family, group.input_shapes, group.dtypes)


@dataclasses.dataclass
class Pair:
    source: int  # group index in the source dataset
    target: int  # group index in the target dataset
    src_idx: np.ndarray  # positions of the common configs in the source group
    tgt_idx: np.ndarray  # the same configs' positions in the target group


def subset_rel(perf_ms: np.ndarray) -> np.ndarray | None:
    """best / time within ``perf_ms`` (0 for failures); None when nothing in it ran."""
    finite = np.isfinite(perf_ms)
    if not finite.any():
        return None
    return np.where(finite, np.min(perf_ms[finite]) / perf_ms, 0.0)


def pairs(source: Any, target: Any, *, min_common: int = 8) -> list[Pair]:
    """Workloads measured on both GPUs with at least ``min_common`` common configs."""
    by_key = {workload_key(g): i for i, g in enumerate(source.groups)}
    out = []
    for ti, tg in enumerate(target.groups):
        si = by_key.get(workload_key(tg))
        if si is None:
            continue
        pos = {c: i for i, c in enumerate(source.groups[si].config_ids)}
        common = [(pos[c], j) for j, c in enumerate(tg.config_ids) if c in pos]
        if len(common) < min_common:
            continue
        src_idx, tgt_idx = (np.array(v, dtype=int) for v in zip(*common, strict=True))
        if subset_rel(source.groups[si].perf_ms[src_idx]) is None or subset_rel(
                tg.perf_ms[tgt_idx]) is None:
            continue
        out.append(Pair(si, ti, src_idx, tgt_idx))
    return out


def _tag_rel(group: Any, idx: np.ndarray, rel: np.ndarray, tag: str) -> float:
    """``rel`` (over ``group``'s configs at ``idx``) of the first config tagged ``tag``; NaN if
    none is."""
    for k, i in enumerate(idx):
        if tag in group.origins[i].split("|"):
            return float(rel[k])
    return math.nan


def pair_outcome(source: Any, target: Any, p: Pair, src_scores: np.ndarray,
                 tgt_scores: np.ndarray) -> dict[str, Any]:
    from helion_learned.features.feasibility import pick_index

    sg, tg = source.groups[p.source], target.groups[p.target]
    rel_s = subset_rel(sg.perf_ms[p.src_idx])
    rel_t = subset_rel(tg.perf_ms[p.tgt_idx])
    s = src_scores[source.rows(p.source)[p.src_idx]]
    t = tgt_scores[target.rows(p.target)[p.tgt_idx]]
    # As the adapter: configs the shared-memory rule rules out are not picked.
    pick_s = pick_index(s, sg.feasible[p.src_idx])
    pick_t = pick_index(t, tg.feasible[p.tgt_idx])
    both = np.isfinite(sg.perf_ms[p.src_idx]) & np.isfinite(tg.perf_ms[p.tgt_idx])
    a, b = sg.perf_ms[p.src_idx][both], tg.perf_ms[p.tgt_idx][both]
    return {
        "family": tg.family, "input_shapes": tg.input_shapes, "dtypes": tg.dtypes,
        "n_common": int(p.src_idx.size),
        "learned_on_source": float(rel_s[pick_s]), "learned_on_target": float(rel_t[pick_t]),
        "same_pick": bool(pick_s == pick_t),
        # What copying the source's tuning result to the target gives, within the common list.
        "source_best_replayed": float(rel_t[int(np.argmax(rel_s))]),
        "source_pick_replayed": float(rel_t[pick_s]),
        "helion_default_target": _tag_rel(tg, p.tgt_idx, rel_t, "helion_effective_default"),
        "helion_default_source": _tag_rel(sg, p.src_idx, rel_s, "helion_effective_default"),
        # Do the two GPUs agree on this workload at all? (a disturbed measurement shows as a low
        # rank correlation and every config slower by the same large factor)
        "rank_corr": _spearman(a, b), "median_time_ratio": float(np.median(b / a))
        if a.size else math.nan,
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def cross_fitted_scores(source: Any, target: Any, plist: list[Pair], protocol: str,
                        params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Source and target row scores from models that never saw the workload's fold (the global
    model and per-kernel experts, as ``training.evaluate.oof_scores`` fits them)."""
    from helion_learned.training.evaluate import fit_models
    from helion_learned.training.evaluate import folds
    from helion_learned.training.evaluate import score_rows

    src = np.full(len(source.y), np.nan)
    tgt = np.full(len(target.y), np.nan)
    src_keys, tgt_keys = source.row_expert_keys(), target.row_expert_keys()
    by_source = {p.source: p.target for p in plist}
    for test in folds(source, protocol):
        # Only paired workloads are scored: a fold holding none of them needs no model.
        if not 0 < test.size < len(source.groups) or not any(int(g) in by_source for g in test):
            continue
        train = ~np.isin(source.row_group, test)
        rows = np.flatnonzero(~train)
        model, experts = fit_models(source.X[train], source.y[train], source.row_group[train],
                                    src_keys[train], params, source.feature_names,
                                    only=set(src_keys[rows].tolist()),
                                    near=(source.X[rows], src_keys[rows], source.row_group[rows]))
        src[rows] = score_rows(model, experts, source.X[rows], src_keys[rows],
                               source.row_group[rows])
        t_groups = [by_source[int(g)] for g in test if int(g) in by_source]
        if t_groups:
            t_rows = np.flatnonzero(np.isin(target.row_group, t_groups))
            tgt[t_rows] = score_rows(model, experts, target.X[t_rows], tgt_keys[t_rows],
                                     target.row_group[t_rows])
    return src, tgt


def joint_scores(source: Any, target: Any, plist: list[Pair], params: dict[str, Any], *,
                 with_target: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Leave-shape-out on *both* GPUs' logs together: each target workload is scored by a model
    trained on the source and target logs minus that workload on either GPU (so the model never
    saw the shape anywhere). Answers: would training on some target-GPU data make it fire there?
    ``with_target=False``: the same folds, source logs only (the control: same held-out sets,
    so the difference is what the target-GPU data adds)."""
    from helion_learned.training.evaluate import fit_models
    from helion_learned.training.evaluate import folds
    from helion_learned.training.evaluate import score_rows

    src = np.full(len(source.y), np.nan)
    tgt = np.full(len(target.y), np.nan)
    by_target = {p.target: p.source for p in plist}
    src_keys, tgt_keys = source.row_expert_keys(), target.row_expert_keys()
    row_keys = np.concatenate([src_keys, tgt_keys])
    X = np.concatenate([source.X, target.X])
    y = np.concatenate([source.y, target.y])
    groups = np.concatenate([source.row_group, target.row_group + len(source.groups)])
    for test in folds(target, "leave_shape_out"):
        keys = {workload_key(target.groups[int(g)]) for g in test}
        held_src = [i for i, g in enumerate(source.groups) if workload_key(g) in keys]
        held = np.concatenate([np.asarray(held_src, dtype=int), test + len(source.groups)])
        train = ~np.isin(groups, held)
        if not with_target:
            train &= groups < len(source.groups)
        t_rows = np.flatnonzero(np.isin(target.row_group, test))
        s_groups = [by_target[int(g)] for g in test if int(g) in by_target]
        s_rows = np.flatnonzero(np.isin(source.row_group, s_groups))
        model, experts = fit_models(X[train], y[train], groups[train], row_keys[train], params,
                                    source.feature_names, only=set(tgt_keys[t_rows].tolist())
                                    | set(src_keys[s_rows].tolist()))
        tgt[t_rows] = score_rows(model, experts, target.X[t_rows], tgt_keys[t_rows])
        src[s_rows] = score_rows(model, experts, source.X[s_rows], src_keys[s_rows])
    return src, tgt


def scoring_summary(rows: list[dict[str, Any]], keep: float) -> dict[str, Any]:
    from helion_learned.training.evaluate import summarize

    if not rows:
        raise ValueError("no workload was measured on both GPUs with enough common configs "
                         "(see --min-common); check that --source and --target hold the same "
                         "workloads (a replay plan collects them: training.collect.replay)")
    col = {k: summarize([r[k] for r in rows]) for k in (
        "learned_on_source", "learned_on_target", "source_best_replayed", "source_pick_replayed",
        "helion_default_target", "helion_default_source")}
    kept = col["learned_on_target"]["geomean"] / col["learned_on_source"]["geomean"]
    beats = col["learned_on_target"]["geomean"] > col["helion_default_target"]["geomean"]
    corr = np.array([r["rank_corr"] for r in rows], dtype=float)
    return {**col, "kept": kept, "same_pick_share": float(np.mean([r["same_pick"] for r in rows])),
            "median_rank_corr": float(np.nanmedian(corr)) if corr.size else math.nan,
            "suspect_workloads": [f"{r['family']} {r['input_shapes']}" for r in rows
                                  if r["rank_corr"] < 0.5 or r["median_time_ratio"] > 3
                                  or r["median_time_ratio"] < 1 / 3],
            "learned_beats_helion_default_on_target": bool(beats),
            "fire_on_target": bool(kept >= keep and beats)}


def per_family_geomeans(rows: list[dict[str, Any]], keys: list[str]
                        ) -> dict[str, dict[str, float]]:
    """family -> {"n": workloads, key: geomean of rows[key], ...}."""
    from helion_learned.training.evaluate import summarize

    out = {}
    for fam in sorted({r["family"] for r in rows}):
        sub = [r for r in rows if r["family"] == fam]
        out[fam] = {"n": len(sub), **{k: summarize([r[k] for r in sub])["geomean"] for k in keys}}
    return out


def per_family(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    return per_family_geomeans(rows, ["learned_on_source", "learned_on_target",
                                      "source_best_replayed", "helion_default_target"])


def common_transfer(bundle: Any, source: Any, target: Any, *, keep: float = 0.95,
                    protocols: tuple[str, ...] = ("leave_shape_out", "leave_family_out"),
                    min_common: int = 8, joint: bool = True) -> dict[str, Any]:
    """Per scoring: summaries, a fire/abstain verdict, per-family geomeans and per-workload rows."""
    plist = pairs(source, target, min_common=min_common)
    params = {**(bundle.metadata.get("model_params") or {}), "n_jobs": 2}
    scorings = {"in_sample": (bundle.score_rows(source.X, source.row_expert_keys(), source.row_group),
                              bundle.score_rows(target.X, target.row_expert_keys(), target.row_group))}
    for protocol in protocols:
        scorings[protocol] = cross_fitted_scores(source, target, plist, protocol, params)
    if joint:
        scorings["joint_leave_shape_out"] = joint_scores(source, target, plist, params)
        scorings["joint_folds_source_only"] = joint_scores(source, target, plist, params,
                                                           with_target=False)
    out: dict[str, Any] = {"n_pairs": len(plist),
                           "n_common_configs": summary_counts([p.src_idx.size for p in plist])}
    for name, (src, tgt) in scorings.items():
        rows = [pair_outcome(source, target, p, src, tgt) for p in plist
                if not np.isnan(src[source.rows(p.source)]).any()
                and not np.isnan(tgt[target.rows(p.target)]).any()]
        out[name] = {"n": len(rows), **scoring_summary(rows, keep),
                     "per_family": per_family(rows), "rows": rows}
    return out


def summary_counts(values: list[int]) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    return {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())} if (
        v.size) else {}
