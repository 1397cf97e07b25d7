"""Markdown for hardware_transfer.py's JSON: the verdict first, then per scoring and per family."""

from __future__ import annotations

import math
from typing import Any

SCORINGS = (("leave_shape_out", "unseen shapes (leave-shape-out on the source)"),
            ("leave_family_out", "unseen kernels (leave-family-out on the source)"),
            ("in_sample", "shipped bundle, in sample"),
            ("joint_folds_source_only", "source logs only, the joint run's folds (control)"),
            ("joint_leave_shape_out", "trained on both GPUs' logs, unseen shapes"))


def _f(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _joint_sentence(common: dict[str, Any], src: str, tgt: str) -> list[str]:
    if "joint_leave_shape_out" not in common:
        return []
    joint, control = common["joint_leave_shape_out"], common["joint_folds_source_only"]
    beats = joint["learned_beats_helion_default_on_target"]
    return [f"Trained on both GPUs' logs (each shape held out on both), the learned pick reaches "
            f"{_f(joint['learned_on_target']['geomean'])} on {tgt} against "
            f"{_f(control['learned_on_target']['geomean'])} with {src} logs only on the same "
            f"folds, and {'beats' if beats else 'does not beat'} Helion's default there "
            f"({_f(joint['helion_default_target']['geomean'])}): {tgt} training data, not the "
            f"{src} model, is what a gate on {tgt} should wait for.", ""]


def _in_sample_caveat(result: dict[str, Any], tgt: str) -> list[str]:
    """A bundle trained on the target GPU's logs too is in sample on both sides of its rows."""
    if not set(result["target_hardware"]) <= set(result["bundle"].get("trained_on", [])):
        return []
    return [f"The bundle was trained on {tgt} logs too (training-only rows), so its *in sample* "
            f"rows are in sample on both GPUs and say nothing about transfer; the cross-fitted "
            f"rows (unseen shapes, unseen kernels, the control) train on the source logs only.", ""]


def markdown(result: dict[str, Any], *, plot: str | None = None) -> str:
    src = ", ".join(result["source_hardware"])
    tgt = ", ".join(result["target_hardware"])
    common = result["common"]
    lso = common["leave_shape_out"]
    verdict = "fire" if lso["fire_on_target"] else "abstain (keep the hardware gate closed)"
    md = [
        f"# Hardware transfer: {src} → {tgt}", "",
        f"`{result['command']}`", "",
        f"Bundle `{result['bundle']['name']}` (training data {result['bundle']['fingerprint']}). "
        f"{common['n_pairs']} workloads measured on both GPUs; per workload the configs both "
        f"measured (median {common['n_common_configs'].get('median', 0):.0f}, min "
        f"{common['n_common_configs'].get('min', 0):.0f}), relative speed recomputed within them "
        "on each GPU (1.0 = the fastest common config on that GPU).", "",
        *_in_sample_caveat(result, tgt),
        f"**Verdict: {verdict}.** On unseen shapes the learned pick keeps "
        f"{_f(lso['kept'])} of its {src} quality on {tgt} (rule: keep ≥ 0.95 and beat Helion's "
        f"default there; Helion default on {tgt}: {_f(lso['helion_default_target']['geomean'])}, "
        f"learned: {_f(lso['learned_on_target']['geomean'])}).", "",
        *_joint_sentence(common, src, tgt),
        "| scoring | learned on source | learned on target | kept | same pick | source best "
        "replayed | source pick replayed | Helion default on target | worst learned on target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in SCORINGS:
        if key not in common:
            continue
        s = common[key]
        md.append(
            f"| {label} (n={s['n']}) | {_f(s['learned_on_source']['geomean'])} | "
            f"{_f(s['learned_on_target']['geomean'])} | {_f(s['kept'])} | "
            f"{s['same_pick_share']:.0%} | {_f(s['source_best_replayed']['geomean'])} | "
            f"{_f(s['source_pick_replayed']['geomean'])} | "
            f"{_f(s['helion_default_target']['geomean'])} | "
            f"{_f(s['learned_on_target']['worst'])} |")
    md += ["", "Geomeans. *source best replayed*: the config fastest on the source, run on the "
           "target (copying tuning results between GPUs); *source pick replayed*: the model's "
           "source-GPU pick run on the target (no hardware features needed).", "",
           f"Measurement agreement: median Spearman rank correlation of the common configs' "
           f"times between the GPUs {_f(lso['median_rank_corr'])}; workloads where the GPUs "
           "disagree wholesale (rank correlation < 0.5 or every config >3× slower/faster): "
           f"{', '.join(lso['suspect_workloads']) or 'none'}.", "",
           "## Per family (unseen shapes, geomean over workloads)", "",
           *([f"![per family]({plot})", ""] if plot else []),
           "| family | n | learned on source | learned on target | source best replayed | "
           "Helion default on target |", "|---|---:|---:|---:|---:|---:|"]
    for fam, row in lso["per_family"].items():
        md.append(f"| {fam} | {row['n']} | {_f(row['learned_on_source'])} | "
                  f"{_f(row['learned_on_target'])} | {_f(row['source_best_replayed'])} | "
                  f"{_f(row['helion_default_target'])} |")
    md += ["", "## Each GPU's own config list (shipped bundle, in sample)", "",
           f"Learned on {tgt} {_f(result['learned']['geomean'])}, on {src} "
           f"{_f(result['learned_on_source']['geomean'])} (kept {_f(result['kept'])}); "
           f"{src}-best replayed {_f(result['source_best_replayed']['geomean'])}; Helion default "
           f"on {tgt} {_f(result['helion_default']['geomean'])}. These lists differ per GPU "
           f"(the {tgt} rounds replayed about half of each {src} list), so the common-list "
           "numbers above are the comparison to use.", "",
           f"Gate at the bundle's threshold {_f(result['threshold']['value'])}: coverage "
           f"{_f(result['threshold']['coverage'])}.", ""]
    return "\n".join(md)
