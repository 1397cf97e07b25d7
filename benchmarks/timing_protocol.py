"""Timing protocol: does a config's measured speed reproduce from one collection run to the next?

    python benchmarks/timing_protocol.py data/h200_timing --original data/h200 -o reports/timing

The training label is a ratio of two timings of one workload (best ÷ this config), so label noise
is run-to-run noise of those timings. ``data/h200_timing`` holds the same workloads and configs
(a replay plan of ``data/h200`` rounds 3-5) measured several times on one H200, one collector
process on the GPU, under Helion 1.5's two timers:

* ``launch_*``: Helion's default ``do_bench`` (what its autotuner measures, and how every shipped
  dataset was collected): host launches included, so a short kernel is launch-bound;
* ``cudagraph_*``: ``HELION_BENCHMARK_CUDAGRAPH=1`` (``collect --timing cudagraph``): replays of a
  captured CUDA graph, device time only.

For every pair of runs (run folders sharing a protocol, and the original 4-processes-per-GPU
round against each single-process launch run) and every workload both measured, on the configs
that succeeded in both: ``winner_kept`` = the speed, in one run, of the other run's winner (the
mean of both directions; 1.0 = the winner reproduces), the Spearman correlation of the relative
speeds, and the median |log ratio| of the relative speeds. Written: ``summary.json``,
``report.md`` and ``reproducibility.png`` (winner kept vs the workload's best time).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helion_learned.training.collect.replay import facts_workloads
from helion_learned.training.logs import load_logs

Key = tuple[str, tuple[int, ...], str]  # family, shape, dtype
SMALL_US = 15.0  # below this a kernel is launch-bound under Helion's default timer (measured)


def load_run(root: Path) -> dict[Key, dict[str, float]]:
    """workload -> {config_id: perf_ms} of one collection run (failed configs left out)."""
    sections = facts_workloads([root])
    out: dict[Key, dict[str, float]] = {}
    for w in load_logs([root]).workloads:
        if (section := sections.get(w.run_id)) is not None:
            key = (section["family"], tuple(section["shape"]), section["dtype"])
            out[key] = {m.config_id: float(m.perf_ms) for m in w.measurements
                        if m.status == "ok" and m.perf_ms}
    return out


def compare(a: dict[str, float], b: dict[str, float]) -> dict[str, float] | None:
    """Agreement of two runs of one workload on the configs both measured."""
    from scipy.stats import spearmanr

    ids = sorted(set(a) & set(b))
    if len(ids) < 5:
        return None
    ta = np.array([a[i] for i in ids])
    tb = np.array([b[i] for i in ids])
    ra, rb = ta.min() / ta, tb.min() / tb
    kept = (rb[int(np.argmax(ra))] + ra[int(np.argmax(rb))]) / 2
    return {"n_configs": len(ids), "best_us_a": float(ta.min() * 1e3),
            "best_us_b": float(tb.min() * 1e3), "winner_kept": float(kept),
            "spearman": float(spearmanr(ra, rb).statistic),
            "median_abs_log_rel": float(np.median(np.abs(np.log(ra / rb))))}


def _geomean(x: list[float]) -> float:
    return float(np.exp(np.mean(np.log(np.maximum(x, 1e-6))))) if x else float("nan")


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    small = [r for r in rows if min(r["best_us_a"], r["best_us_b"]) < SMALL_US]
    return {"n_workloads": len(rows), "winner_kept_geomean": _geomean([r["winner_kept"] for r in rows]),
            "winner_kept_min": min((r["winner_kept"] for r in rows), default=float("nan")),
            "spearman_mean": float(np.mean([r["spearman"] for r in rows])) if rows else float("nan"),
            f"n_under_{SMALL_US:g}us": len(small),
            f"winner_kept_geomean_under_{SMALL_US:g}us": _geomean([r["winner_kept"] for r in small])}


def study(runs: dict[str, dict[Key, dict[str, float]]], original: str | None) -> dict[str, Any]:
    protocol = {name: name.rsplit("_", 1)[0] for name in runs if name != original}
    pairs = [(a, b) for a, b in itertools.combinations(sorted(protocol), 2)
             if protocol[a] == protocol[b]]
    if original is not None:
        pairs += [(original, b) for b in sorted(protocol) if protocol[b] == "launch"]
    out: dict[str, Any] = {"pairs": {}, "by_protocol": {}}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for a, b in pairs:
        rows = []
        for key in sorted(set(runs[a]) & set(runs[b])):
            r = compare(runs[a][key], runs[b][key])
            if r is not None:
                rows.append({"family": key[0], "shape": list(key[1]), "dtype": key[2], **r})
        kind = "launch, original 4 procs/GPU vs 1 proc" if a == original else protocol[a]
        out["pairs"][f"{a} vs {b}"] = {"kind": kind, "rows": rows, **summarize(rows)}
        grouped.setdefault(kind, []).extend(rows)
    out["by_protocol"] = {k: summarize(v) for k, v in grouped.items()}
    return out


def write_report(result: dict[str, Any], out: Path,
                 render: Callable[[dict[str, Any], Path], None]) -> None:
    """``out/summary.json`` plus what ``render`` writes beside it (a study's report)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    render(result, out)


def render(result: dict[str, Any], out: Path) -> None:
    lines = ["# Timing protocol: does a measured winner reproduce?", "",
             "Same workloads and configs, measured again on one NVIDIA H200 (data/h200_timing, "
             "one collector process on the GPU). `winner kept` = the speed, in one run, of the "
             "other run's fastest config (mean of both directions; 1.00 = it reproduces). "
             "Regenerate: `python benchmarks/timing_protocol.py data/h200_timing --original "
             "data/h200 -o reports/timing`.", "",
             "A comparison is one workload in one pair of runs (a workload measured in k runs "
             "gives k(k-1)/2 comparisons).", "",
             "| protocol | comparisons | winner kept (geomean) | worst | Spearman | "
             f"comparisons < {SMALL_US:g} us | winner kept there |", "|---|---:|---:|---:|---:|---:|---:|"]
    for kind, s in result["by_protocol"].items():
        lines.append(f"| {kind} | {s['n_workloads']} | {s['winner_kept_geomean']:.3f} | "
                     f"{s['winner_kept_min']:.2f} | {s['spearman_mean']:.3f} | "
                     f"{s[f'n_under_{SMALL_US:g}us']} | "
                     f"{s[f'winner_kept_geomean_under_{SMALL_US:g}us']:.3f} |")
    lines += ["", "## Per workload", "",
              "| runs | workload | configs | best us (a / b) | winner kept | Spearman |",
              "|---|---|---:|---|---:|---:|"]
    for label, p in result["pairs"].items():
        for r in p["rows"]:
            lines.append(f"| {label} | {r['family']} {tuple(r['shape'])} | {r['n_configs']} | "
                         f"{r['best_us_a']:.1f} / {r['best_us_b']:.1f} | {r['winner_kept']:.2f} | "
                         f"{r['spearman']:.2f} |")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _plot(result, out / "reproducibility.png")


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in result["pairs"].values():
        groups.setdefault(p["kind"], []).extend(p["rows"])
    for (kind, rows), marker in zip(sorted(groups.items()), "oxs^", strict=False):
        ax.scatter([min(r["best_us_a"], r["best_us_b"]) for r in rows],
                   [r["winner_kept"] for r in rows], label=f"{kind} ({len(rows)})", alpha=0.7,
                   marker=marker)
    ax.axvline(SMALL_US, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("best config time (us, log)")
    ax.set_ylabel("other run's winner, speed in this run")
    ax.set_title("Does the measured winner reproduce? (H200)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, help="folder of run folders named <protocol>_<n>")
    p.add_argument("--original", type=Path, help="the dataset the replay plan came from")
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args(argv)
    folders = sorted(d for d in args.runs.iterdir() if d.is_dir())
    if not folders:
        print(f"{args.runs}: no run folders (expected e.g. launch_1/, cudagraph_1/)", file=sys.stderr)
        return 2
    runs = {d.name: load_run(d) for d in folders}
    if args.original is not None:
        runs["original"] = load_run(args.original)
    result = study(runs, "original" if args.original is not None else None)
    write_report(result, args.out, render)
    for kind, s in result["by_protocol"].items():
        print(f"{kind:42s} n={s['n_workloads']:2d} winner kept {s['winner_kept_geomean']:.3f} "
              f"(worst {s['winner_kept_min']:.2f}) spearman {s['spearman_mean']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
