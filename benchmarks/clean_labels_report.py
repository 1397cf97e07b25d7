"""report.md and picks.png for benchmarks/clean_labels.py (its summary dict in, files out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LABELS = {"learned_leave_shape_out": "learned, leave-shape-out",
          "learned_leave_family_out": "learned, leave-family-out",
          "helion_default": "Helion default config",
          "random_8": "best of 8 random (expected)",
          "h100_winner": "the H100 log's own winner",
          "clean_winner": "the graph-timed log's winner"}


def _s(d: dict[str, float]) -> str:
    return f"{d['geomean']:.3f} / {d['p10']:.3f} / {d['within_5pct']:.0%}"


def render(result: dict[str, Any], out: Path) -> None:
    src, cln = ", ".join(result["source_hardware"]), ", ".join(result["clean_hardware"])
    n = result["n_workloads"]
    extra = result.get("training_only") or []
    also = (f" (with `{' '.join(extra)}` as training-only rows, as the bundle was trained)"
            if extra else "")
    extra_arg = f"--extra {' '.join(extra)} " if extra else ""
    rep_arg = (f"--replicate {result['replicate_source']} "
               if result.get("replicate_source") else "")
    same_gpu = src == cln  # data/h100_graph: the same GPU type, only the timer differs
    try:
        out_arg = out.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        out_arg = out
    lines = [
        "# Clean labels: the short kernels' picks scored on CUDA-graph timings", "",
        f"The {n} workloads of `{' '.join(result['source'])}` whose best config ran under 15 us "
        f"({src}, Helion's default launch-inclusive timer) were measured again, every config of "
        f"their lists, on an {cln} under CUDA-graph timing (`{' '.join(result['clean'])}`). "
        "Each pick is scored on both logs. Regenerate: `python benchmarks/clean_labels.py "
        f"--source {' '.join(result['source'])} --clean {' '.join(result['clean'])} {rep_arg}"
        f"--model helion_learned/models/artifacts/triton/cuda_sm90 {extra_arg}"
        f"-o {out_arg}`.", "",
        ("Both logs are the same GPU type; only the timer differs. " if same_gpu else
         "Caveat: the two logs are also two GPUs (both sm90). ")
        + f"The learned picks are cross-fitted on the {src} logs{also}, in the report's folds: "
        "no workload is ranked by a model that saw it, nor its twin on another GPU.", "",
        f"## Picks on the {n} short-kernel workloads", "",
        "geomean / p10 / share within 5 % of the best, relative to the best config of the same "
        "list in that log.", "",
        f"| method | on the {src} launch labels | on the {cln} graph labels |",
        "|---|---:|---:|"]
    for m, s in result["picks"].items():
        if m == "random_8":  # an expectation per workload: a share "within 5 %" means nothing
            cells = [f"{s[k]['geomean']:.3f} / {s[k]['p10']:.3f} / –" for k in ("launch", "clean")]
        else:
            cells = [_s(s["launch"]), _s(s["clean"])]
        lines.append(f"| {LABELS.get(m, m)} | {cells[0]} | {cells[1]} |")
    c = result.get("label_ceiling")
    if c:
        lines += ["", "## How high the launch labels let any picker score", "",
                  f"The config that is fastest under graph timing scores "
                  f"**{c['clean_winner_on_launch_geomean']:.3f}** on the launch labels "
                  f"(geomean over the {c['n_short']} workloads): a picker that knew the true "
                  "ranking would score that" + ("" if same_gpu else ", up to the change of GPU") + ". If it were also perfect on "
                  f"the other {c['n_workloads'] - c['n_short']} workloads, the report's "
                  f"leave-shape-out geomean over all {c['n_workloads']} would read "
                  f"**{c['geomean_if_the_rest_were_perfect']:.3f}**. "
                  + ("The graph-timed log is that re-measurement: `train`/`evaluate "
                     "--prefer-timer cudagraph` score and train on it."
                     if same_gpu else
                     "An estimate (the true ranking here comes from another GPU), but it says "
                     "the 0.97 target is out of reach on these labels unless a model also "
                     "predicts their noise. The fix is re-measuring the short kernels on the "
                     "H100 under graph timing (`data/replay_plans/h100_short15us_all.json.gz`).")]
    rep = result.get("replicate")
    if rep and rep["n_workloads"]:
        lines += ["", "## The clean labels' own noise", "",
                  f"{rep['n_workloads']} of the workloads measured twice under graph timing: the "
                  "winner of one run keeps "
                  f"**{rep['winner_kept_geomean']:.3f}** of its speed in the other (geomean; "
                  f"worst {rep['winner_kept_min']:.2f}; Spearman {rep['spearman_mean']:.3f}). "
                  "Under the launch timer the same check gave 0.827 below 15 us "
                  "(`reports/timing`)."]
    t = result["training_on_clean_labels"]
    lines += ["", "## Does training on the clean labels help?", "",
              f"Leave-shape-out over the {n} clean workloads (folds over them), scored on the "
              "clean labels.", "",
              "| trained on | geomean / p10 / within 5 % |", "|---|---:|",
              f"| {src} logs{' + training-only' if extra else ''} (launch labels for the short "
              f"kernels too) | {_s(t['control'])} |",
              f"| the same, short kernels' labels replaced by the {cln} graph-timed ones | "
              f"{_s(t['replaced'])} |"]
    h = result.get("headline_with_clean_short_labels")
    if h:
        lines += ["", "## What-if: the report's leave-shape-out with clean short-kernel labels",
                  "", "All workloads of the report, the short ones' labels (and hardware facts) "
                  f"taken from the {cln} graph-timed log. "
                  + ("As `evaluate --prefer-timer cudagraph` scores them." if same_gpu else
                     "Two GPUs in one dataset: a what-if, not a measurement of the shipped "
                     "model."), "",
                  "| workloads | n | geomean / p10 / within 5 % |", "|---|---:|---:|"]
        names = {"all": "all", "short_clean": f"short ({cln}, graph labels)",
                 "rest_h100": f"the rest ({src})"}
        lines += [f"| {names[k]} | {v['n']} | {_s(v)} |" for k, v in h.items()]
    lines += ["", "## Per family (geomean: launch labels → clean labels)", "",
              "| family | n | learned, leave-shape-out | learned, leave-family-out | "
              "Helion default |", "|---|---:|---:|---:|---:|"]
    for fam, d in result["per_family"].items():
        cells = [f"{d[f'{m}_launch']:.3f} → {d[f'{m}_clean']:.3f}" for m in (
            "learned_leave_shape_out", "learned_leave_family_out", "helion_default")]
        lines.append(f"| {fam} | {d['n']} | " + " | ".join(cells) + " |")
    lines += ["", "## Per workload", "",
              "| workload | configs | best us (launch / graph) | learned LSO (launch / clean) | "
              "default (launch / clean) | H100 winner on clean |", "|---|---:|---|---|---|---:|"]
    for r in sorted(result["rows"], key=lambda r: r["learned_leave_shape_out_clean"]):
        lines.append(
            f"| {r['family']} {r['input_shapes']} | {r['n_configs']} | "
            f"{r['best_us_launch']:.1f} / {r['best_us_clean']:.1f} | "
            f"{r['learned_leave_shape_out_launch']:.2f} / {r['learned_leave_shape_out_clean']:.2f}"
            f" | {r['helion_default_launch']:.2f} / {r['helion_default_clean']:.2f} | "
            f"{r['h100_winner_clean']:.2f} |")
    lines += ["", "![picks](picks.png)", "", "![launch vs clean](launch_vs_clean.png)"]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _plot(result, out / "picks.png")
    _scatter(result, out / "launch_vs_clean.png")


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    methods = list(result["picks"])
    y = np.arange(len(methods))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    src, cln = ", ".join(result["source_hardware"]), ", ".join(result["clean_hardware"])
    for off, lab, name in ((-0.2, "launch", f"launch labels ({src} log)"),
                           (0.2, "clean", f"graph labels ({cln} log)")):
        ax.barh(y + off, [result["picks"][m][lab]["geomean"] for m in methods], height=0.38,
                label=name)
    ax.set_yticks(y, [LABELS.get(m, m) for m in methods], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("pick's speed relative to the best of the list (geomean)")
    ax.set_title(f"{result['n_workloads']} short-kernel workloads: one pick, two scorings",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.35, -0.2), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _scatter(result: dict[str, Any], path: Path) -> None:
    """Per workload: the learned pick scored on each log (off the diagonal = the labels disagree)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    families = sorted({r["family"] for r in result["rows"]})
    cmap = plt.get_cmap("tab20")
    for i, fam in enumerate(families):
        rows = [r for r in result["rows"] if r["family"] == fam]
        ax.scatter([r["learned_leave_shape_out_launch"] for r in rows],
                   [r["learned_leave_shape_out_clean"] for r in rows], s=22, label=fam,
                   color=cmap(i % 20), alpha=0.85)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("learned pick (leave-shape-out) on the launch labels")
    ax.set_ylabel("the same pick on the graph-timed labels")
    ax.set_title("Below the diagonal the launch labels flattered the pick, above they hid it",
                 fontsize=8)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
