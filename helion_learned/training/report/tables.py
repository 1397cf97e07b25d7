"""Tables of the evaluation report: number formatting and the headline, baselines, targets,
per-family, experiments, worst-picks and feature tables (shared by Markdown and HTML)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from .evaluation import METHODS

BASELINES = ("helion_default", "helion_heuristic", "random_1", "random_8", "nearest_neighbour")
METHOD_LABELS = {
    "learned": "learned", "helion_default": "Helion default", "helion_heuristic": "Helion heuristic",
    "random_1": "random (1 config)", "random_8": "random best-of-8",
    "nearest_neighbour": "nearest neighbour", "oracle": "oracle (best measured)",
    "learned_where_heuristic_fires": "learned, where heuristic fires",
    "learned_bind_time_candidates": "learned, among grid + Helion's configs (what bind time ranks)",
    "learned_behind_gate": "learned behind the gate (its pick where it fires, Helion's default "
                           "elsewhere; threshold chosen on these workloads)",
}
PROTOCOL_LABELS = {"leave_shape_out": "leave-shape-out", "leave_family_out": "leave-family-out",
                   "held_out": "held-out logs"}
DASH = "–"


def primary_protocol(result: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    protos = result.get("protocols") or {}
    if "leave_shape_out" in protos:
        return "leave_shape_out", protos["leave_shape_out"]
    for name, res in protos.items():
        return name, res
    return None, {}


# The order protocols are shown in: unseen kernels first (what a user's own kernel gets), then
# unseen shapes, then anything else.
HEADLINE_ORDER = ("leave_family_out", "leave_shape_out")


def headline_order(protos: Mapping[str, Any]) -> list[tuple[str, Any]]:
    rank = {name: i for i, name in enumerate(HEADLINE_ORDER)}
    return sorted(protos.items(), key=lambda kv: rank.get(kv[0], len(rank)))


def _ok(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def num(x: Any, digits: int = 3) -> str:
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{float(x):.{digits}f}" if _ok(x) else DASH


def pct(x: Any) -> str:
    return f"{100 * float(x):.1f}%" if _ok(x) else DASH


def slowdown(x: Any) -> str:
    if isinstance(x, float) and math.isinf(x):
        return "∞ (a fired pick failed)"
    return f"{float(x):.3f}×" if _ok(x) else DASH


def proto_label(name: str) -> str:
    return PROTOCOL_LABELS.get(name, name.replace("_", "-"))


def _get(d: Mapping[str, Any] | None, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return math.nan
        d = d.get(k)
    return math.nan if d is None else d


@dataclasses.dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclasses.dataclass
class Image:
    name: str  # file stem
    caption: str


Block = str | Table | Image  # str: a paragraph with `code` / **bold** inline markup


@dataclasses.dataclass
class Section:
    title: str
    blocks: list[Block]


def _headline(protos: Mapping[str, Any]) -> Table:
    rows = []
    for name, p in headline_order(protos):
        s, t = _get(p, "overall", "learned"), p.get("threshold") or {}
        rows.append([proto_label(name), str(p.get("n_groups", DASH)), num(_get(s, "geomean")),
                     num(_get(s, "p10")), num(_get(s, "worst")), pct(_get(s, "within_5pct")),
                     num(p.get("top5_geomean")), num(p.get("kendall_tau_mean")),
                     num(t.get("value")), pct(t.get("coverage")), pct(t.get("precision")),
                     slowdown(t.get("max_slowdown", math.nan))])
    return Table(["protocol", "groups", "learned geomean", "p10", "worst", "within 5%",
                  "top-5 geomean", "Kendall τ", "threshold", "coverage", "precision",
                  "max slowdown (fired)"], rows)


def _baselines(protos: Mapping[str, Any]) -> Table:
    ordered = headline_order(protos)
    headers = ["method"]
    for name, _ in ordered:
        headers += [f"{proto_label(name)} geomean", f"{proto_label(name)} p10"]
    methods = [*METHODS, "learned_where_heuristic_fires", "learned_bind_time_candidates",
               "learned_behind_gate"]
    rows = []
    for m in methods:
        if not any(m in (p.get("overall") or {}) for p in protos.values()):
            continue
        row = [METHOD_LABELS.get(m, m)]
        for _, p in ordered:
            s = _get(p, "overall", m)
            row += [num(_get(s, "geomean")), num(_get(s, "p10"))]
        rows.append(row)
    return Table(headers, rows)


def _cell(x: Any) -> str:
    return num(x) if x is None or isinstance(x, (int, float)) else str(x)


def _targets(targets: list[Mapping[str, Any]]) -> Table:
    rows = []
    for t in targets:
        target, value = t.get("target"), t.get("value")
        gap = (num(float(value) - float(target)) if _ok(value) and _ok(target) else DASH)
        rows.append([str(t.get("name", "")), _cell(target), _cell(value),
                     "✅" if t.get("met") else "❌", gap])
    return Table(["target", "goal", "value", "met", "value − goal"], rows)


def _per_family(result: Mapping[str, Any]) -> Table | None:
    name, lso = primary_protocol(result)
    if not lso.get("per_family"):
        return None
    lfo = None if name == "leave_family_out" else _get(result, "protocols", "leave_family_out",
                                                        "per_family")
    lfo = lfo if isinstance(lfo, Mapping) and lfo else None
    cols = ("learned", "helion_default", "helion_heuristic", "random_8", "nearest_neighbour",
            "oracle")
    # The family held out (an unseen kernel) first, beside what its seen shapes score.
    headers = ["family", "n", *(["learned, family held out"] if lfo else []), "learned",
               "default", "heuristic", "random-8", "NN", "oracle"]
    rows = []
    for fam, stats in lso["per_family"].items():
        row = [fam, str(_get(stats, "learned", "n"))]
        if lfo:
            row.append(num(_get(lfo, fam, "learned", "geomean")))
        rows.append(row + [num(_get(stats, m, "geomean")) for m in cols])
    return Table(headers, rows)


def _per_runtime(result: Mapping[str, Any]) -> Table | None:
    _, lso = primary_protocol(result)
    buckets = lso.get("per_runtime")
    if not buckets:
        return None
    cols = ("learned", "helion_default", "random_8", "nearest_neighbour")
    rows = [[label, str(_get(stats, "learned", "n"))]
            + [num(_get(stats, m, "geomean")) for m in cols]
            + [pct(_get(stats, "learned", "within_5pct"))]
            for label, stats in buckets.items()]
    return Table(["best-config time", "n", "learned", "default", "random-8", "NN",
                  "learned within 5%"], rows)


def _experiments(exps: list[Mapping[str, Any]]) -> Table:
    return Table(["experiment", "change", "leave-shape-out geomean", "leave-family-out geomean",
                  "notes"],
                 [[str(e.get("name", "")), str(e.get("change", "")),
                   num(e.get("leave_shape_out_geomean")), num(e.get("leave_family_out_geomean")),
                   str(e.get("notes", ""))] for e in exps])


def _worst(p: Mapping[str, Any], k: int = 5) -> Table:
    groups = [g for g in p.get("groups") or [] if _ok(_get(g, "rel", "learned"))]
    groups.sort(key=lambda g: g["rel"]["learned"])
    thr = _get(p, "threshold", "value")
    rows = []
    for g in groups[:k]:
        conf = g.get("confidence")
        fired = "yes" if _ok(conf) and _ok(thr) and conf >= thr else "no"
        rows.append([str(g.get("family", "")), str(g.get("input_shapes", "")),
                     str(g.get("dtypes", "")), num(g["rel"]["learned"]),
                     num(_get(g, "rel", "helion_default")), num(conf), fired])
    return Table(["family", "shapes", "dtypes", "learned rel", "default rel", "confidence",
                  "fired?"], rows)


def _feature_table(imp: Mapping[str, Any], k: int = 10) -> Table:
    items = sorted(((str(n), v) for n, v in imp.items() if _ok(v)), key=lambda kv: -kv[1])[:k]
    return Table(["feature", "share"], [[n, pct(v)] for n, v in items])


def lead_sentence(protos: Mapping[str, Any]) -> str | None:
    """Unseen kernels first: what a user's own kernel can expect, then a new shape of ours."""
    def geo(name: str) -> tuple[Any, Any, Any]:
        s = ((protos.get(name) or {}).get("overall") or {})
        return (_get(s, "learned", "geomean"), _get(s, "learned", "p10"),
                _get(s, "helion_default", "geomean"))

    if "leave_family_out" not in protos:
        return None
    g, p10, d = geo("leave_family_out")
    text = (f"**Kernels the logs never held** (leave-family-out): the learned pick runs at "
            f"**{num(g)}** of the best known (p10 {num(p10)}; Helion's default {num(d)}).")
    if "leave_shape_out" in protos:
        g, p10, d = geo("leave_shape_out")
        text += (f" New shapes of kernels the logs hold (leave-shape-out): {num(g)} "
                 f"(p10 {num(p10)}; Helion's default {num(d)}).")
    return text
