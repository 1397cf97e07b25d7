"""Report figures (matplotlib, Agg canvas, no pyplot global state). Each returns PNG bytes.

Imported lazily by ``render`` so the runtime path and the JSON-only report never need matplotlib.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .evaluation import METHODS
from .tables import METHOD_LABELS
from .tables import primary_protocol
from .tables import proto_label

COLORS = {
    "learned": "#1f77b4", "helion_default": "#ff7f0e", "helion_heuristic": "#2ca02c",
    "random_1": "#b0b0b0", "random_8": "#9467bd", "nearest_neighbour": "#8c564b",
    "oracle": "#000000",
}
FAMILY_METHODS = ("learned", "helion_default", "helion_heuristic", "random_8")
DPI = 110


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _subplots(n: int, *, width: float = 5.2, height: float = 4.0) -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=(width * max(n, 1), height), layout="constrained")
    axes = fig.subplots(1, max(n, 1), squeeze=False)[0]
    return fig, list(axes)


def regret_cdf(protocols: Mapping[str, Any], methods: Sequence[str]) -> bytes:
    """Empirical CDF of relative speed per method; one subplot per protocol."""
    fig, axes = _subplots(len(protocols))
    for ax, (proto, res) in zip(axes, protocols.items(), strict=False):
        groups = res.get("groups") or []
        drawn = 0
        for m in methods:
            vals = np.sort([r["rel"][m] for r in groups if _finite(r.get("rel", {}).get(m))])
            if vals.size == 0:
                continue
            y = np.arange(1, vals.size + 1) / vals.size
            x = np.concatenate([[0.0], vals, [1.0]])
            y = np.concatenate([[0.0], y, [1.0]])
            geo = ((res.get("overall") or {}).get(m) or {}).get("geomean")
            if not _finite(geo):  # same floor as evaluate.summarize
                geo = float(np.exp(np.mean(np.log(np.clip(vals, 1e-3, None)))))
            style = "--" if m == "oracle" else "-"
            lw = 2.4 if m == "learned" else 1.4
            ax.step(x, y, where="post", color=COLORS.get(m), ls=style, lw=lw,
                    label=f"{METHOD_LABELS.get(m, m)} (geomean {geo:.3f})")
            drawn += 1
        ax.set_title(f"{proto_label(proto)} ({len(groups)} groups)")
        if not drawn:
            _empty(ax, "no groups")
            continue
        ax.set_xlim(0.0, 1.02)
        ax.set_ylim(0.0, 1.01)
        ax.set_xlabel("relative speed of pick (best time / pick time)")
        ax.set_ylabel("fraction of groups at or below")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5, loc="upper left")
    fig.suptitle("Relative-speed CDF (curves further down/right are better)")
    return _png(fig)


def precision_coverage(protocols: Mapping[str, Any], wrong_budget: float | None) -> bytes:
    """Precision and coverage vs confidence threshold; one subplot per protocol."""
    fig, axes = _subplots(len(protocols))
    for ax, (proto, res) in zip(axes, protocols.items(), strict=False):
        ax.set_title(proto_label(proto))
        curve = res.get("curve") or []
        if not curve:
            _empty(ax, "no threshold curve")
            continue
        t = np.array([c.get("threshold") for c in curve], dtype=float)
        prec = np.array([c.get("precision") if _finite(c.get("precision")) else np.nan
                         for c in curve], dtype=float)
        cov = np.array([c.get("coverage") if _finite(c.get("coverage")) else np.nan
                        for c in curve], dtype=float)
        ax.plot(t, prec, color="#1f77b4", lw=2, label="fired picks not >5% slower than Helion's default")
        ax.plot(t, cov, color="#ff7f0e", lw=2, label="coverage (fraction fired)")
        if _finite(wrong_budget):
            ax.axhline(1 - float(wrong_budget), color="#d62728", ls=":", lw=1.2,
                       label=f"target 1 - wrong_budget = {1 - float(wrong_budget):.2f}")
        chosen = (res.get("threshold") or {}).get("value")
        if _finite(chosen):
            ax.axvline(float(chosen), color="#333333", ls="--", lw=1.2,
                       label=f"chosen threshold = {float(chosen):.3f}")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.03)
        ax.set_xlabel("confidence threshold")
        ax.set_ylabel("fraction")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5, loc="best")
    fig.suptitle("Precision / coverage of the learned pick vs confidence threshold")
    return _png(fig)


def calibration(protocols: Mapping[str, Any]) -> bytes:
    """Reliability diagram: mean confidence vs observed hit rate per bin, size = bin count."""
    fig = Figure(figsize=(5.6, 5.0), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="#888888", ls="--", lw=1, label="perfectly calibrated")
    markers = ("o", "s", "^", "D")
    drawn = 0
    for i, (proto, res) in enumerate(protocols.items()):
        bins = [b for b in (res.get("calibration") or [])
                if _finite(b.get("confidence")) and _finite(b.get("hit_rate"))]
        if not bins:
            continue
        x = np.array([b["confidence"] for b in bins], dtype=float)
        y = np.array([b["hit_rate"] for b in bins], dtype=float)
        n = np.array([b.get("n", 1) for b in bins], dtype=float)
        size = 30 + 370 * n / max(float(n.max()), 1.0)
        color = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")[i % 4]
        ax.plot(x, y, color=color, lw=1, alpha=0.6)
        ax.scatter(x, y, s=size, color=color, alpha=0.75, marker=markers[i % 4],
                   edgecolors="white", label=f"{proto_label(proto)} (n={int(n.sum())})")
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.35, "no calibration bins", ha="center", color="#666666")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_aspect("equal")
    ax.set_xlabel("mean predicted confidence (bin)")
    ax.set_ylabel("observed: pick not >2% slower than Helion's default")
    ax.set_title("Confidence calibration (marker area ∝ groups in bin)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def per_family(per_fam: Mapping[str, Mapping[str, Any]], title: str) -> bytes:
    """Grouped horizontal bars: geomean relative speed per family for the key methods."""
    fams = list(per_fam)
    height = max(2.5, 0.75 * len(fams) * (len(FAMILY_METHODS) / 4) + 1.4)
    fig = Figure(figsize=(8.0, height), layout="constrained")
    ax = fig.subplots()
    if not fams:
        _empty(ax, "no families")
        return _png(fig)
    bar_h = 0.8 / len(FAMILY_METHODS)
    ypos = np.arange(len(fams))[::-1].astype(float)
    for j, m in enumerate(FAMILY_METHODS):
        offs = ypos + 0.4 - bar_h * (j + 0.5)
        vals = [(per_fam[f].get(m) or {}).get("geomean") for f in fams]
        width = [float(v) if _finite(v) else 0.0 for v in vals]
        ax.barh(offs, width, height=bar_h * 0.92, color=COLORS[m], label=METHOD_LABELS[m])
        for y, v in zip(offs, vals, strict=True):
            txt = f"{float(v):.3f}" if _finite(v) else "–  (absent)"
            ax.text((float(v) if _finite(v) else 0.0) + 0.01, y, txt, va="center", fontsize=7)
    ax.axvline(1.0, color="#333333", lw=0.8, ls=":")
    ax.set_yticks(ypos)
    ax.set_yticklabels(fams)
    ax.set_xlim(0.0, 1.15)
    ax.set_xlabel("geomean relative speed (1.0 = best known config)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.07 * 8 / height),
              ncol=len(FAMILY_METHODS), frameon=False)
    return _png(fig)


def feature_importance(importance: Mapping[str, Any], top: int = 20) -> bytes:
    """Top features by importance share (as percentages)."""
    items = sorted(((str(k), float(v)) for k, v in importance.items() if _finite(v)),
                   key=lambda kv: kv[1], reverse=True)[:top]
    fig = Figure(figsize=(7.5, max(2.5, 0.3 * len(items) + 1.2)), layout="constrained")
    ax = fig.subplots()
    if not items:
        _empty(ax, "no feature importance")
        return _png(fig)
    names = [k for k, _ in items][::-1]
    vals = [100.0 * v for _, v in items][::-1]
    ax.barh(names, vals, color="#1f77b4")
    for y, v in enumerate(vals):
        ax.text(v, y, f" {v:.1f}%", va="center", fontsize=7)
    ax.set_xlim(0.0, max(vals) * 1.18)
    ax.set_xlabel("share of importance (%)")
    ax.set_title(f"Top {len(items)} features")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def all_plots(result: Mapping[str, Any]) -> dict[str, bytes]:
    """Every report figure as PNG bytes, keyed by file stem."""
    protos = result.get("protocols") or {}
    out = {"regret_cdf": regret_cdf(protos, METHODS),
           "precision_coverage": precision_coverage(protos, result.get("wrong_budget")),
           "calibration": calibration(protos)}
    name, primary = primary_protocol(result)
    if name is not None:
        out["per_family"] = per_family(primary.get("per_family") or {},
                                       f"Per-family geomean relative speed ({proto_label(name)})")
    if result.get("feature_importance"):
        out["feature_importance"] = feature_importance(result["feature_importance"])
    return out
