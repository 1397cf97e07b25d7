"""Turn online validation results (benchmarks/online_validation.py) into the report.

    python benchmarks/online_report.py RESULTS_DIR... -o reports/online [--transfer FILE.json]
    (e.g. data/online_h100 -o reports/online --transfer reports/online/transfer.json)

Reads every ``online_shard*.jsonl`` (the last line per item wins) and writes ``summary.json``,
``results.md``, ``results.json`` (all rows) and two plots. Every number comes from the inputs:
a ratio is speed relative to the autotune best of the same item (autotune ms ÷ variant ms,
timed side by side; 1.0 = as fast as the best, > 1 = faster). A variant whose config failed or
gave a wrong result has no ratio: it is listed, and fails the targets it touches.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from online_plots import SEED_VARIANTS
from online_plots import search_curves
from online_plots import seed_ratios
from transfer_report import SCORINGS

DEFAULT_OVERHEAD = (Path(__file__).resolve().parents[1]
                    / "reports/overhead/bind_overhead_cpu_suite77_lazy_exclude.json")
GOALS = {  # issue #5 targets: (summary value, comparison, goal)
    "learned_geomean": ("seed_quality.learned_geomean", ">=", 0.97),
    "learned_worst": ("seed_quality.learned_worst", ">=", 0.90),
    "learned_not_below_heuristic": ("seed_quality.n_families_learned_below_heuristic", "<=", 0),
    "search_wall_clock_speedup_to_2pct": ("search.wall_clock_speedup_to_2pct", ">=", 3.0),
    "search_final_at_most_1pct_worse": ("search.final_ratio.worst", "<=", 1.01),
    "bind_time_ratio": ("overhead.bind_time_ratio", "<=", 1.05),
    "prediction_p99_ms": ("overhead.p99_ms", "<=", 5.0),
}


def geomean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(statistics.fmean(math.log(v) for v in vals)) if vals else None


def load_rows(dirs: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: dict[str, dict[str, Any]] = {}
    commands: list[dict[str, Any]] = []
    for d in dirs:
        files = sorted(d.glob("online_shard*.jsonl"))
        if not files:
            raise SystemExit(f"{d}: no online_shard*.jsonl; run benchmarks/online_validation.py")
        lines = [json.loads(ln) for p in files for ln in p.read_text().splitlines() if ln.strip()]
        for row in sorted(lines, key=lambda r: r.get("timestamp", 0.0)):  # last one wins
            rows[row["item"]] = row
        if (d / "commands.jsonl").exists():
            commands += [json.loads(ln) for ln in (d / "commands.jsonl").read_text().splitlines()
                         if ln.strip()]
    return list(rows.values()), commands


def _devices(rows: list[dict[str, Any]]) -> str:
    names = sorted({r.get("device", "?") for r in rows})
    return " / ".join(names) if names else "no rows"


def seed_part(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ok = [r for r in rows if r["status"] == "ok" and r["variants"]["autotune"].get("ms")]
    excluded = [{"item": r["item"], "reason": r.get("error") or "autotune gave no timed config"}
                for r in rows if r not in ok]
    families: list[dict[str, Any]] = []
    for fam in dict.fromkeys(r["family"] for r in ok):
        items = [r for r in ok if r["family"] == fam]
        families.append({"family": fam, "items": [r["item"] for r in items], "ratios": {
            v: geomean([r["ratios"].get(v) for r in items])
            if all(r["ratios"].get(v) for r in items) else None for v in SEED_VARIANTS}})
    summary: dict[str, Any] = {"device": _devices(rows), "n_items": len(ok),
                               "n_families": len(families), "excluded_items": excluded}
    for v in SEED_VARIANTS:
        name = {"learned_pick": "learned"}.get(v, v)
        ratios = [r["ratios"].get(v) for r in ok]
        summary[f"{name}_geomean"] = geomean(ratios)
        summary[f"{name}_worst"] = min((x for x in ratios if x), default=None)
        summary[f"{name}_failed"] = [r["item"] for r in ok if not r["ratios"].get(v)]
    for v in ("learned_pick", "learned_gated"):
        summary[f"{v}_fired"] = sum(bool(r["variants"][v].get("fired")) for r in ok)
    below = [f["family"] for f in families
             if f["ratios"]["helion_heuristic"] and (not f["ratios"]["learned_pick"]
                                                    or f["ratios"]["learned_pick"]
                                                    < f["ratios"]["helion_heuristic"])]
    topk = [r for r in ok if r["variants"].get("learned_topk")]
    if topk:  # the learned autotuner (LearnedTopKSearch, k=8) against the quick autotune
        summary["learned_autotuner"] = {
            "items": len(topk),
            "geomean_vs_autotune": geomean([r["ratios"].get("learned_topk") for r in topk]),
            "worst_vs_autotune": min((r["ratios"]["learned_topk"] for r in topk
                                      if r["ratios"].get("learned_topk")), default=None),
            "wall_clock_vs_quick": geomean([
                r["variants"]["learned_topk"]["elapsed_s"] / r["autotune_elapsed_s"]
                for r in topk if r["variants"]["learned_topk"].get("elapsed_s")
                and r.get("autotune_elapsed_s")]),
            "configs_benchmarked_mean": sum(r["variants"]["learned_topk"].get("n_configs", 0)
                                            for r in topk) / len(topk),
            "seconds_mean": sum(r["variants"]["learned_topk"].get("elapsed_s") or 0
                                for r in topk) / len(topk),
            "definition": "LearnedTopKSearch (k=8) chosen config re-timed beside the others, "
                          "÷ the quick-effort Helion autotune's best; wall clock = its search "
                          "time ÷ the autotune's (bind excluded, cold compile caches)"}
    summary["families_learned_below_heuristic"] = below
    summary["n_families_learned_below_heuristic"] = len(below)
    return summary, families


def search_part(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["status"] == "ok"]
    finals = [r["final_ratio"] for r in ok if r.get("final_ratio")]
    finals_search = [r["final_ratio_search"] for r in ok if r.get("final_ratio_search")]
    return {
        "device": _devices(rows), "items": len(ok),
        "wall_clock_speedup_to_2pct": geomean([r.get("wall_clock_speedup") for r in ok]),
        "configs_speedup_to_2pct": geomean([r.get("configs_speedup") for r in ok]),
        "seeded_not_within_2pct": [r["item"] for r in ok if not r.get("seeded_reached")],
        "final_ratio": {
            "worst": max(finals, default=None), "geomean": geomean(finals),
            "definition": "seeded final best ms ÷ unseeded final best ms, both re-timed side by "
                          "side (ms ratio: > 1 = the seeded result is slower)",
            "search_timings_worst": max(finals_search, default=None),
            "search_timings_geomean": geomean(finals_search)},
        "speedup_definition": "unseeded ÷ seeded search time (Helion CSV timestamp_s) or configs "
                              "evaluated until best-so-far ≤ 1.02 × the unseeded final best; "
                              "geomean over items where the seeded arm got there",
        "failed_items": [{"item": r["item"], "error": r.get("error")} for r in rows
                         if r["status"] != "ok"],
    }


def issue_keys(seed_summary: dict[str, Any], search_rows: list[dict[str, Any]]
               ) -> dict[str, Any]:
    """Issue #30's summary keys, from what the inputs measured (None where they did not).

    ``learned_autotuner.geomean_vs_full`` needs a full-effort Helion autotune as the reference;
    the seed phase times a quick-effort one, so that number is ``geomean_vs_quick``.
    ``learned_prior`` reads only search items whose seeded arm was LearnedPriorLFBOTreeSearch."""
    la = seed_summary.get("learned_autotuner") or {}
    prior = [r for r in search_rows if r.get("seeded_arm") == "prior"]
    prior_part = search_part(prior) if prior else {}
    return {
        "learned_autotuner": {
            "geomean_vs_full": None, "geomean_vs_quick": la.get("geomean_vs_autotune"),
            "wall_clock_vs_quick": la.get("wall_clock_vs_quick"), "items": la.get("items", 0),
            "note": "no full-effort Helion autotune in these inputs: the reference is the "
                    "quick-effort autotune of the seed phase (seed_quality.learned_autotuner)"},
        "learned_prior": {
            "wall_clock_speedup_to_2pct": prior_part.get("wall_clock_speedup_to_2pct"),
            "final_ratio_worst": (prior_part.get("final_ratio") or {}).get("worst"),
            "items": prior_part.get("items", 0),
            "note": "search items with --seeded-arm prior (LearnedPriorLFBOTreeSearch vs "
                    "LFBOTreeSearch, same random seeds); none in these inputs" if not prior
                    else "search items with --seeded-arm prior; definitions as in search"}}


def _rel(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (reports are committed)."""
    try:
        return str(path.resolve().relative_to(DEFAULT_OVERHEAD.parents[2]))
    except ValueError:
        return str(path)


def _distinct(values: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json.dumps(v, sort_keys=True), v)
    return [seen[k] for k in sorted(seen)]


def overhead_part(rows: list[dict[str, Any]], fallback: Path) -> dict[str, Any]:
    gpu = [r for r in rows if r["status"] == "ok" and r.get("mode") == "gpu"]
    if gpu:
        o, src = gpu[-1]["overhead"], (f"online run on {gpu[-1]['device']} "
                                       f"({gpu[-1]['overhead_file']})")
        device = gpu[-1]["device"]
    elif fallback.exists():
        o = json.loads(fallback.read_text())
        src, device = (f"{_rel(fallback)} (no GPU overhead run in the inputs)",
                       o.get("device", "?"))
    else:
        return {"bind_time_ratio": None, "p99_ms": None, "source": "none found", "device": None}
    # The per-kernel paired ratio where the run has it: the ratio of two medians over a mix of
    # kernels moves by a few points between identical runs on one host.
    paired = o.get("bind_time_ratio_paired_median")
    return {"bind_time_ratio": paired if paired is not None else o.get("bind_time_ratio"),
            "bind_time_ratio_definition": (
                "per kernel, median over repeats of (bind with ÷ bind without), back to back; "
                "median over kernels" if paired is not None
                else "median bind time with ÷ median bind time without"),
            "bind_time_ratio_of_medians": o.get("bind_time_ratio"),
            "p99_ms": o.get("prediction_ms_p99"),
            "p50_ms": o.get("prediction_ms_p50"), "heuristic_p99_ms": o.get("heuristic_ms_p99"),
            "source": src, "device": device,
            "kernels": o.get("kernels"), "binds_per_arm": o.get("binds_per_arm")}


def _lookup(summary: dict[str, Any], dotted: str) -> Any:
    value: Any = summary
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def targets(summary: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, (key, op, goal) in GOALS.items():
        value = _lookup(summary, key)
        met = None if value is None else (value >= goal if op == ">=" else value <= goal)
        if name == "learned_worst" and summary["seed_quality"].get("learned_failed"):
            met = False  # a failed learned config is worse than any ratio
        if name == "search_wall_clock_speedup_to_2pct" and summary["search"].get(
                "seeded_not_within_2pct"):
            met = False
        out[name] = {"measured": value, "goal": f"{op} {goal}", "met": met, "from": key}
    return out


def _f(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def render(summary: dict[str, Any], seed_rows: list[dict[str, Any]],
           search_rows: list[dict[str, Any]], commands: list[str], plots: list[str]) -> str:
    sq, se, ov = summary["seed_quality"], summary["search"], summary["overhead"]
    cpu_note = (["**CPU interpreter run (TRITON_INTERPRET=1, tiny shapes): a smoke test of the "
                 "machinery; its timings say nothing about GPU performance.**", ""]
                if summary.get("modes") and "cpu-interpret" in summary["modes"] else [])
    md = ["# Online validation (issue #5)", "",
          "Ratios are speed relative to the best config of a real Helion quick autotune of the "
          "same kernel and shape, timed side by side in one process (autotune ms ÷ variant ms; "
          "1.0 = as fast as the autotune best). Shapes are held out of training "
          "(`SuiteKernel.online_shapes`).", "", *cpu_note,
          *[line for note in summary.get("notes", []) for line in (f"> {note}", "")],
          "## Targets", "",
          f"Device: **{summary['device']}** (overhead: {ov.get('device')})", "",
          "| target | measured | goal | met |", "|---|---:|---:|:---:|"]
    for name, t in summary["targets"].items():
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        md.append(f"| {name} | {_f(t['measured'])} | {t['goal']} | {met} |")
    md += ["", "## Seed quality", "", f"Device: **{sq['device']}**", "",
           "| item | autotune ms | " + " | ".join(SEED_VARIANTS) + " | learned fired | "
           "gated fired | Helion heuristics |", "|---|---:|" + "---:|" * len(SEED_VARIANTS)
           + ":---:|:---:|---|"]
    for r in seed_rows:
        if r["status"] != "ok":
            md.append(f"| {r['item']} | failed: {str(r.get('error'))[:80]} |")
            continue
        v = r["variants"]
        md.append(f"| {r['item'].removeprefix('seed:')} | {_f(v['autotune'].get('ms'), 4)} | "
                  + " | ".join(_f(r["ratios"].get(k)) if r["ratios"].get(k) else
                               f"{v[k].get('status')}" for k in SEED_VARIANTS)
                  + f" | {v['learned_pick'].get('fired')} | {v['learned_gated'].get('fired')} | "
                  f"{', '.join(v['helion_heuristic'].get('heuristics_fired') or []) or '–'} |")
    names = {"learned_pick": "learned"}
    md.append("| **geomean** | | " + " | ".join(
        _f(sq[f"{names.get(k, k)}_geomean"]) for k in SEED_VARIANTS) + " | | | |")
    md.append("| **worst** | | " + " | ".join(
        _f(sq[f"{names.get(k, k)}_worst"]) for k in SEED_VARIANTS) + " | | | |")
    md += ["", f"{sq['n_items']} items, {sq['n_families']} families; learned pick fired on "
           f"{sq['learned_pick_fired']}, the calibrated gate on {sq['learned_gated_fired']}. "
           f"Families where the learned pick is slower than Helion's hand heuristics: "
           f"{', '.join(sq['families_learned_below_heuristic']) or 'none'}. "
           f"Excluded (failed item or autotune): "
           f"{', '.join(e['item'] for e in sq['excluded_items']) or 'none'}.", "",
           "## Search acceleration", "", f"Device: **{se['device']}**. {se['speedup_definition']}.",
           "", "| item | unseeded best ms | seeded best ms | unseeded s / configs to 2 % | "
           "seeded s / configs to 2 % | speedup (s) | speedup (configs) | final ratio |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in search_rows:
        if r["status"] != "ok":
            md.append(f"| {r['item']} | failed: {str(r.get('error'))[:80]} |")
            continue
        u, s = r["arms"]["unseeded"], r["arms"]["seeded"]
        md.append(f"| {r['item'].removeprefix('search:')} | {_f(u.get('retimed_ms'), 4)} | "
                  f"{_f(s.get('retimed_ms'), 4)} | {_f(u.get('time_to_target_s'), 1)} / "
                  f"{_f(u.get('configs_to_target'))} | {_f(s.get('time_to_target_s'), 1)} / "
                  f"{_f(s.get('configs_to_target'))} | {_f(r.get('wall_clock_speedup'), 2)} | "
                  f"{_f(r.get('configs_speedup'), 2)} | {_f(r.get('final_ratio'))} |")
    fr = se["final_ratio"]
    md += [f"| **aggregate ({se['items']} items)** | | | | | "
           f"{_f(se['wall_clock_speedup_to_2pct'], 2)} | {_f(se['configs_speedup_to_2pct'], 2)} "
           f"| worst {_f(fr['worst'])}, geomean {_f(fr['geomean'])} |", "",
           f"Final ratio: {fr['definition']}. Seeded arm never within 2 %: "
           f"{', '.join(se['seeded_not_within_2pct']) or 'none'}.", "",
           "## Bind-time overhead", "", f"Device: **{ov.get('device')}**; source: {ov['source']}",
           "", "| bind time with ÷ without | prediction p50 ms | prediction p99 ms |",
           "|---:|---:|---:|",
           f"| {_f(ov['bind_time_ratio'])} | {_f(ov.get('p50_ms'), 2)} | {_f(ov['p99_ms'], 2)} |",
           "", f"Bind time ratio: {ov.get('bind_time_ratio_definition', 'median with ÷ median without')}."]
    if "hardware_transfer" in summary:
        md += transfer_section(summary["hardware_transfer"])
    md += ["", "## Plots", "", *[f"![{p}]({p})" for p in plots], "", "## Commands", "",
           "```bash", *commands, "```", ""]
    return "\n".join(md)


TRANSFER_SCORINGS = tuple(name for name, _ in SCORINGS)  # transfer_report's order


def transfer_brief(result: dict[str, Any], source: Path) -> dict[str, Any]:
    """The part of benchmarks/hardware_transfer.py's JSON that summary.json carries."""
    common = result["common"]
    keys = ("learned_on_source", "learned_on_target", "source_best_replayed",
            "helion_default_target")
    return {
        "file": str(source), "details": str(source.with_suffix(".md")),
        "source_hardware": result["source_hardware"], "target_hardware": result["target_hardware"],
        "n_workloads": common["n_pairs"],
        "fire_on_target": common["leave_shape_out"]["fire_on_target"],
        "suspect_workloads": common["leave_shape_out"]["suspect_workloads"],
        **{name: {"kept": common[name]["kept"],
                  **{k: common[name][k]["geomean"] for k in keys}}
           for name in TRANSFER_SCORINGS if name in common},
    }


def transfer_section(t: dict[str, Any]) -> list[str]:
    src, tgt = ", ".join(t["source_hardware"]), ", ".join(t["target_hardware"])
    md = ["", f"## Hardware transfer: {src} → {tgt}", "",
          f"{t['n_workloads']} workloads measured on both GPUs, on the configs both measured; "
          f"details in [{Path(t['details']).name}]({Path(t['details']).name}). "
          f"Transfer rule's verdict for {tgt}: "
          f"**{'fire' if t['fire_on_target'] else 'abstain'}** (a recommendation: a bundle "
          "fires only on the GPUs its scored logs came from, `targets[].devices`).", "",
          "| model ranking | learned on source | learned on target | kept | source best replayed "
          "| Helion default on target |", "|---|---:|---:|---:|---:|---:|"]
    for name in TRANSFER_SCORINGS:
        if name not in t:
            continue
        r = t[name]
        md.append(f"| {name} | {_f(r['learned_on_source'])} | {_f(r['learned_on_target'])} | "
                  f"{_f(r['kept'])} | {_f(r['source_best_replayed'])} | "
                  f"{_f(r['helion_default_target'])} |")
    return md


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", type=Path, help="online_validation.py --out dirs")
    p.add_argument("-o", "--out", type=Path, default=Path("reports/online"))
    p.add_argument("--transfer", type=Path,
                   help="benchmarks/hardware_transfer.py JSON: summarized in the report")
    p.add_argument("--overhead-file", type=Path, default=DEFAULT_OVERHEAD,
                   help="overhead JSON used when the inputs hold no GPU overhead run")
    p.add_argument("--note", action="append", default=[],
                   help="context for the reader (repeatable), e.g. how the run was targeted")
    args = p.parse_args(argv)

    rows, command_log = load_rows(args.results)
    by_kind = {k: [r for r in rows if r.get("kind") == k] for k in ("seed", "search", "overhead")}
    seed_summary, families = seed_part(by_kind["seed"])
    summary: dict[str, Any] = {
        "device": _devices(rows), "seed_quality": seed_summary,
        "search": search_part(by_kind["search"]),
        "overhead": overhead_part(by_kind["overhead"], args.overhead_file),
        "inputs": [str(d) for d in args.results],
        "modes": sorted({str(r.get("mode")) for r in rows}),
        # One entry per distinct model/software seen in the inputs (the machine's own paths
        # dropped: they mean nothing here).
        "bundles": _distinct([{k: v for k, v in (r.get("bundle") or {}).items() if k != "path"}
                              for r in rows]),
        "versions": _distinct([r.get("versions") for r in rows]),
        "notes": args.note,
    }
    summary.update(issue_keys(seed_summary, by_kind["search"]))
    summary["targets"] = targets(summary)
    if args.transfer:
        summary["hardware_transfer"] = transfer_brief(json.loads(args.transfer.read_text()),
                                                      args.transfer)
    args.out.mkdir(parents=True, exist_ok=True)
    plots = []
    if families:
        plots.append(seed_ratios(families, seed_summary["device"],
                                 args.out / "seed_ratios.png").name)
    curves = [r for r in by_kind["search"] if r["status"] == "ok"]
    if curves:
        plots.append(search_curves(curves, summary["search"]["device"],
                                   args.out / "search_curves.png").name)
    commands = [" ".join(c["argv"]) for c in command_log]
    commands.append(" ".join(["python", "benchmarks/online_report.py",
                              *(sys.argv[1:] if argv is None else argv)]))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "results.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    (args.out / "results.md").write_text(render(summary, by_kind["seed"], by_kind["search"],
                                                commands, plots))
    print(f"wrote {args.out}/summary.json, results.md, results.json, {', '.join(plots)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
