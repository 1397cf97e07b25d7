"""``report.md`` of ``search_population.py`` (rank within a Helion search population)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

PROTOCOLS = ("leave_family_out", "leave_family_out_populations", "shipped_bundle")
LABEL = {"leave_family_out": "leave-family-out",
         "leave_family_out_populations": "leave-family-out + other kernels' populations",
         "shipped_bundle": "shipped bundle (as is)"}


def jsonable(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, paths -> str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _f(value: Any, fmt: str = "{:.3f}") -> str:
    return "–" if value is None else fmt.format(value)


def _summary_row(label: str, gpu: str, s: dict[str, Any]) -> str:
    return (f"| {label} | {gpu} | {s['n_populations']} | {_f(s['top1_geomean'])} | "
            f"{_f(s['top5_geomean'])} | {_f(s['random1_geomean'])} | "
            f"{_f(s['random8_geomean'])} | {_f(s['kendall_tau_mean'])} |")


def _position(pos: dict[str, Any] | None) -> str:
    if pos is None:
        return "–"
    if pos["status"] != "ok":
        return f"failed (of {pos['n_ok']})"
    return f"{pos['rank']}/{pos['n_ok']} ({pos['rel']:.2f})"


def _range(values: list[Any]) -> str:
    got = [v for v in values if v is not None]
    return "–" if not got else f"{min(got)} – {max(got)}"


def render(result: dict[str, Any], out: Path) -> None:
    rows = result["populations"]
    header = ("| protocol | GPU | populations | top-1 | top-5 | random-1 | random best-of-8 | "
              "Kendall τ |")
    lines = ["# Rank within a Helion search population (leave-family-out)", "",
             "When the model ranks the configs one real Helion autotune visited for one workload "
             "(kernel × shapes × GPU), for a kernel family it was never trained on, is its top-1 "
             "better than a random one of those configs, and its top-5 better than a random "
             f"best-of-8? Regenerate: `{result['command']}` "
             f"({result['seconds']['total'] / 60:.1f} min on 2 cores).", "",
             "## Headline (geomean over populations of relative speed within the population)", "",
             header, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for p in PROTOCOLS:
        lines.append(_summary_row(LABEL[p], "all", result[p]))
        for gpu, per in result["per_gpu"].items():
            lines.append(_summary_row(LABEL[p], gpu, per[p]))
    seeds = result.get("xgboost_seeds", [0])
    lines += ["", f"Leave-family-out rows: the mean over XGBoost seeds {seeds} of each seed's "
              "geomean (top-1 by seed, all populations: " + "; ".join(
                  f"{LABEL[p]} " + ", ".join(_f(v) for v in result[p].get(
                      "per_seed_top1_geomean", [])) for p in PROTOCOLS
                  if "per_seed_top1_geomean" in result[p]) + ").", ""]
    for gpu, per in result["helion_configs"].items():
        d, h = per["helion_default"], per["helion_heuristic"]
        lines.append(f"* Helion's own configs, {gpu}: its default (`autotune_reference_config`) is in "
                     f"{d['present']} of {d['n_populations']} populations, speed there "
                     f"{_f(d['rel_geomean'])} (geomean), median rank at "
                     f"{_f(d['median_rank_fraction'], '{:.0%}')} of the population; what it runs "
                     f"with autotuning off (`default_config()`, heuristics applied): "
                     f"{_f(h['rel_geomean'])}, median rank at "
                     f"{_f(h['median_rank_fraction'], '{:.0%}')}.")
    lines += ["", "## Targets (issue #29 item 3)", "",
              "| target | protocol | value | goal | met |", "|---|---|---:|---:|---|"]
    for t in result["targets"]:
        value = (f"top-1 − random-1 = {_f(t['value'])}" if "random-1" in t["name"]
                 else f"top-5 = {_f(t['value'])}")
        goal = "≥ 0.10" if "random-1" in t["name"] else f"≥ {_f(t['target'])} (random-8)"
        lines.append(f"| {t['name']} | {LABEL[t['protocol']]} | {value} | {goal} | "
                     f"{'yes' if t['met'] else 'no'} |")
    lines += ["", "## How to read", "",
              "* A *population* is every config one Helion autotune measured for one workload "
              "(only those that ran ok; failed ones are dropped, as the loaders do). Relative "
              "speed = best time in the population ÷ the config's time (1.0 = the best Helion's "
              "search found, which is Helion's final pick by construction).",
              "* **top-1**: the config the model ranks first; **top-5**: the best of its five "
              "highest (what a 5-config re-benchmark of the model's picks would get); "
              "**random-1** / **random best-of-8**: the exact expected speed of 1 / the best of 8 "
              "configs drawn at random from the same population (random-1 = mean relative speed). "
              "**Kendall τ**: rank agreement of the model's scores with the measured speeds.",
              "* **leave-family-out**: the families are dealt into 7 groups; each population is "
              "ranked by a bundle trained with the shipped settings on the shipped training data "
              "minus its family's group (scored and training-only logs): the model never saw the "
              "kernel (" + ("the whole `train_bundle`" if result.get("full_bundles") else
                           "the final global model `train_bundle` fits, with the shipped "
                           "parameters, and the expert a bundle lends a family it never saw: "
                           "the nearest-structure kernel's, at 0.25; so that model's score is "
                           "the bundle's") + "). "
              "**leave-family-out + other kernels' populations**: the same models, also trained "
              "on the populations of the other family groups (training-only rows; never the "
              "held-out kernel's): what retraining on Helion autotune logs of other kernels "
              "gives a new kernel. **shipped bundle**: the committed bundle as is (the kernel "
              "seen, this shape not): the leave-shape-out-like number.",
              "* Populations are small and already good: Helion's search spends its budget near "
              "its best configs, so random-1 is high and random best-of-8 is often close to 1; "
              "with 5 or fewer ok configs top-5 is 1.0 by construction (see `configs` below).",
              "* Geomeans weight every population equally: families with more logs (seed "
              "autotune + search seeds) count more than once.", ""]
    lines += _provenance(result)
    lines += ["## By family (leave-family-out unless marked)", "",
              "| family | populations | top-1 | top-5 | random-1 | random-8 | τ | "
              "+ populations top-1 | + populations top-5 | shipped top-1 | shipped top-5 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for fam, per in result["per_family"].items():
        lfo, sb = per["leave_family_out"], per["shipped_bundle"]
        lp = per.get("leave_family_out_populations", {})
        lines.append(f"| {fam} | {lfo['n_populations']} | {_f(lfo['top1_geomean'])} | "
                     f"{_f(lfo['top5_geomean'])} | {_f(lfo['random1_geomean'])} | "
                     f"{_f(lfo['random8_geomean'])} | {_f(lfo['kendall_tau_mean'], '{:.2f}')} | "
                     f"{_f(lp.get('top1_geomean'))} | {_f(lp.get('top5_geomean'))} | "
                     f"{_f(sb['top1_geomean'])} | {_f(sb['top5_geomean'])} |")
    lines += ["", "## Per population", "",
              "`LFO` = leave-family-out, `SB` = shipped bundle; `default` = Helion's default "
              "config (`autotune_reference_config`): rank by measured time among the ok configs "
              "(speed); `heuristic` = what Helion runs with autotuning off (`default_config()`, "
              "its heuristics applied); – where the online run did not record it.", "",
              "| GPU | log | family | shapes | configs ok (failed) | best ms | LFO top-1 | "
              "LFO top-5 | LFO τ | SB top-1 | SB top-5 | SB τ | random-1 | random-8 | default | "
              "heuristic |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
              "---|---|"]
    for r in sorted(rows, key=lambda r: (r["gpu"], r["family"], r["log"])):
        lfo, sb = r["leave_family_out"], r["shipped_bundle"]
        name = r["log"].rsplit("/", 1)[-1].replace("_autotune", "")
        lines.append(
            f"| {r['gpu']} | {name} | {r['family']} | {r['input_shapes']} | {lfo['n_ok']} "
            f"({lfo['n_failed']}) | {r['best_ms']:.4f} | {_f(lfo['top1'])} | {_f(lfo['top5'])} | "
            f"{_f(lfo['kendall_tau'], '{:.2f}')} | {_f(sb['top1'])} | {_f(sb['top5'])} | "
            f"{_f(sb['kendall_tau'], '{:.2f}')} | {_f(lfo['random1'])} | {_f(lfo['random8'])} | "
            f"{_position(r['helion_default'])} | {_position(r['helion_heuristic'])} |")
    lines += ["", "## Leave-family-out groups", "",
              "| group | families held out | workloads held out | trained on (workloads) | "
              "rows | train s |", "|---:|---|---:|---:|---:|---:|"]
    for i, g in enumerate(result["training"]["family_groups"], start=1):
        lines.append(f"| {i} | {', '.join(g['families'])} | {g['held_out_workloads']} | "
                     f"{g['train_workloads']} | {g['train_rows']} | "
                     f"{g['train_seconds']:.0f} |")
    lines += ["", "## Excluded logs", ""]
    if result["excluded"]:
        lines += ["| GPU | log | reason |", "|---|---|---|"]
        lines += [f"| {e['gpu']} | {e['log']} | {e['reason']} |" for e in result["excluded"]]
    else:
        lines.append("None.")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _provenance(result: dict[str, Any]) -> list[str]:
    rows = result["populations"]
    tr = result["training"]
    lines = ["## Data", "",
             "| GPU | populations | kinds | search effort | budget s | configs per population "
             "(ok) | dates (UTC, online run's rows) |", "|---|---:|---|---|---:|---|---|"]
    for gpu in sorted({r["gpu"] for r in rows}):
        sel = [r for r in rows if r["gpu"] == gpu]
        kinds = ", ".join(f"{k} {sum(r['kind'] == k for r in sel)}"
                          for k in sorted({r["kind"] for r in sel}))
        efforts = ", ".join(sorted({str(r["effort"]) for r in sel}))
        budgets = ", ".join(sorted({f"{r['search_budget_s']:g}" for r in sel
                                    if r["search_budget_s"] is not None}))
        dates = sorted(r["date"] for r in sel if r["date"])
        lines.append(f"| {gpu} | {len(sel)} | {kinds} | {efforts} | {budgets or '–'} | "
                     f"{_range([r['leave_family_out']['n_ok'] for r in sel])} | "
                     f"{(dates[0] + ' – ' + dates[-1]) if dates else '–'} |")
    shape_seen = sum(bool(r["shape_in_training"]) for r in rows)
    lines += ["",
              "Every population is a real Helion 1.5 autotune (default search `LFBOTreeSearch`, "
              "`autotune_effort=quick`, plain Helion: no learned seeds) of a suite kernel at a "
              "shape held out of training, logged by `HELION_AUTOTUNE_LOG` during the online "
              "validation runs (`data/online_h100/`, `data/online_h200/`; see data/README.md). "
              "`seed_autotune` = the autotune of a seed item; `search_unseeded` = the plain arm "
              "of a search item (other random seeds of the same workload). "
              + ("The seeded search arms are included. " if result["seeded_arms_included"] else
                 "The seeded search arms (which visited our learned seeds) are left out. ")
              + "The logs' own timestamps are seconds since the run started; dates come from the "
              "online run's row for the item. Facts were backfilled on CPU into a scratch copy "
              "(`helion_learned.training.logs.backfill`).", "",
              f"Training data (all protocols; the populations protocol adds the other family "
              f"groups' populations): {', '.join(tr['logs'])} scored, "
              f"{', '.join(tr['extra_logs'])} training-only ({tr['n_workloads']} workloads, "
              f"fingerprint `{tr['fingerprint']}`"
              + (", the shipped bundle's" if tr["matches_shipped_bundle"] else
                 ", NOT the shipped bundle's") + "). Populations whose (kernel, shapes, dtypes) "
              f"is also a training workload: {shape_seen}.", ""]
    return lines
