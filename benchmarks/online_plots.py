"""Figures of the online validation report (matplotlib, Agg canvas, no pyplot state)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SEED_VARIANTS = ("helion_default", "helion_heuristic", "learned_gated", "learned_pick")
COLORS = {"helion_default": "#bbbbbb", "helion_heuristic": "#4c72b0", "learned_gated": "#8fbf7f",
          "learned_pick": "#2ca02c", "unseeded": "#4c72b0", "seeded": "#2ca02c"}


def seed_ratios(families: list[dict[str, Any]], device: str, path: Path) -> Path:
    """Horizontal grouped bars: speed relative to the autotune best, per family and variant."""
    n = max(len(families), 1)
    fig = Figure(figsize=(8, 0.42 * n * len(SEED_VARIANTS) / 2 + 1.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    height = 0.8 / len(SEED_VARIANTS)
    for j, variant in enumerate(SEED_VARIANTS):
        ys = [i + (j - (len(SEED_VARIANTS) - 1) / 2) * height for i in range(len(families))]
        xs = [f["ratios"].get(variant) or 0.0 for f in families]
        ax.barh(ys, xs, height=height, color=COLORS[variant], label=variant)
    ax.set_yticks(range(len(families)), [f["family"] for f in families], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", lw=0.8)
    ax.axvline(0.97, color="#d62728", lw=0.8, ls="--", label="target 0.97")
    ax.set_xlabel("speed relative to the autotune best (1.0 = as fast; 0 = failed / missing)")
    ax.set_title(f"Seed quality on held-out shapes\n{device}", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def search_curves(items: list[dict[str, Any]], device: str, path: Path) -> Path:
    """Best-so-far ÷ the unseeded arm's final best vs search time, seeded vs unseeded."""
    n = max(len(items), 1)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(max(4.2 * cols, 6.5), 3.0 * rows + 0.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, item in zip(axes, items, strict=False):
        arms = item["arms"]
        ref = arms["unseeded"].get("final_best_ms")
        for arm in ("unseeded", "seeded"):
            traj = arms[arm].get("trajectory") or []
            if not traj or not ref:
                continue
            ts = [p[0] for p in traj]
            ys = [p[2] / ref for p in traj]
            ax.step(ts, ys, where="post", color=COLORS[arm], label=arm)
        ax.axhline(1.02, color="#d62728", lw=0.8, ls="--")
        ax.set_ylim(0.95, 1.6)  # the approach to the best matters; early configs go off the top
        ax.set_title(item["item"].removeprefix("search:"), fontsize=8)
        ax.set_xlabel("search time (s, Helion CSV timestamp_s)", fontsize=7)
        ax.set_ylabel("best so far / unseeded final", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in axes[len(items):]:
        ax.set_visible(False)
    fig.suptitle(f"Search: unseeded vs seeded (dashed: within 2 %)\n{device}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


TRANSFER_BARS = (  # (scoring, per-family column, label, colour)
    ("leave_shape_out", "learned_on_source", "learned on {src} (H100 model)", "#9ecae1"),
    ("leave_shape_out", "learned_on_target", "same model on {tgt}", "#d62728"),
    ("joint_leave_shape_out", "learned_on_target", "trained on both, on {tgt}", "#2ca02c"),
    ("leave_shape_out", "helion_default_target", "Helion default on {tgt}", "#bbbbbb"),
    ("leave_shape_out", "source_best_replayed", "{src}-best config on {tgt}", "#4c72b0"),
)


def transfer_families(common: dict[str, Any], src: str, tgt: str, path: Path) -> Path:
    """Per family: the learned pick on both GPUs (unseen shapes), the joint model, Helion's
    default and the replayed source best, all within the configs both GPUs measured."""
    bars = [b for b in TRANSFER_BARS if b[0] in common]
    families = list(common["leave_shape_out"]["per_family"])
    fig = Figure(figsize=(8, 0.2 * len(families) * len(bars) / 2 + 2.4))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    height = 0.8 / len(bars)
    for j, (scoring, column, label, colour) in enumerate(bars):
        per = common[scoring]["per_family"]
        ys = [i + (j - (len(bars) - 1) / 2) * height for i in range(len(families))]
        xs = [per.get(f, {}).get(column) or 0.0 for f in families]
        xs = [0.0 if x != x else x for x in xs]  # NaN (no Helion default tag) draws nothing
        ax.barh(ys, xs, height=height, color=colour, label=label.format(src=src, tgt=tgt))
    ax.set_yticks(range(len(families)), families, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xlabel("speed relative to the fastest config both GPUs measured (geomean per family)")
    ax.set_title(f"Hardware transfer {src} → {tgt}, unseen shapes", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
