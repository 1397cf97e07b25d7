"""benchmarks/search_population.py: the per-population metrics on a SYNTHETIC population (hand
computed), and one real committed H100 search log backfilled and scored with the shipped bundle."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import search_population as sp  # noqa: E402
import search_population_report as spr  # noqa: E402

# SYNTHETIC population: 4 ok configs (1, 2, 4, 5 ms) and one failed (NaN).
PERF = np.array([2.0, 1.0, np.nan, 4.0, 5.0])
REL = {0: 0.5, 1: 1.0, 3: 0.25, 4: 0.2}  # best (1 ms) / time, ok configs only


def test_ranking_that_picks_the_best_scores_one() -> None:
    m = sp.score_population(PERF, [0.1, 0.9, 5.0, 0.0, -1.0])  # the failed config's score is ignored
    assert m["top1"] == 1.0
    assert m["top5"] == 1.0
    assert (m["n_ok"], m["n_failed"]) == (4, 1)


def test_ranking_that_picks_the_worst_gets_the_worsts_ratio() -> None:
    m = sp.score_population(PERF, [0.0, -1.0, 9.0, 1.0, 2.0])
    assert m["top1"] == pytest.approx(REL[4])  # 1 ms / 5 ms
    assert m["top5"] == 1.0  # only 4 ok configs: the top 5 holds the best
    assert m["kendall_tau"] == pytest.approx(-1.0)  # exactly reversed


def test_random_baselines_are_exact_expectations() -> None:
    m = sp.score_population(PERF, [0.0, 0.0, 0.0, 0.0, 0.0])
    rel = sorted(REL.values())
    assert m["random1"] == pytest.approx(np.mean(rel))  # mean of the ratios
    assert m["random8"] == pytest.approx(1.0)  # 8 >= 4 configs: always holds the best
    # best of 2 of 4, by hand: P(max is the i-th smallest) = (i-1)/C(4,2)
    from helion_learned.training.evaluate import expected_best_of_random

    assert expected_best_of_random(np.array(rel), 2) == pytest.approx(
        sum((i - 1) / 6 * r for i, r in enumerate(rel, start=1)))
    assert math.isnan(m["kendall_tau"])  # constant scores rank nothing
    # All tied: top-1 is a uniform pick among them, i.e. random-1; top-5 takes the logged order.
    assert m["top1"] == pytest.approx(m["random1"]) and m["top1_tied"] == 4


def test_top1_among_tied_configs_is_their_mean() -> None:
    m = sp.score_population(PERF, [3.0, 3.0, 9.0, 1.0, 3.0])  # 0, 1 and 4 tie on top
    assert m["top1_tied"] == 3
    assert m["top1"] == pytest.approx(np.mean([REL[0], REL[1], REL[4]]))
    assert m["top5"] == 1.0


def test_top5_is_the_best_of_the_five_highest() -> None:
    perf = np.arange(1.0, 11.0)  # 10 ok configs, 1..10 ms
    m = sp.score_population(perf, perf)  # ranks the slowest first
    assert m["top1"] == pytest.approx(0.1)
    assert m["top5"] == pytest.approx(1 / 6)  # best of 10, 9, 8, 7, 6 ms


def test_too_few_ok_configs_is_refused() -> None:
    with pytest.raises(ValueError, match="2\\+ ok configs"):
        sp.score_population([1.0, np.inf], [0.0, 1.0])


def test_config_position() -> None:
    assert sp.config_position(PERF, 0) == {"status": "ok", "rank": 2, "rel": 0.5, "n_ok": 4}
    assert sp.config_position(PERF, 2)["status"] == "failed"
    assert sp.config_position(PERF, None) is None


def test_summaries_targets_and_report(tmp_path: Path) -> None:
    good = {"top1": 0.9, "top5": 1.0, "random1": 0.5, "random8": 0.95, "kendall_tau": 0.5,
            "n_ok": 10, "n_failed": 0}
    bad = {**good, "top1": 0.55, "top5": 0.9}
    mid = {**good, "top1": 0.7, "top5": 0.96}
    rows = [{"log": "x/seed_a_1x2_autotune", "gpu": "H100", "kind": "seed_autotune",
             "family": "a", "input_shapes": "[(1, 2)]", "best_ms": 0.01, "effort": "quick",
             "search_budget_s": 35.0, "date": None, "shape_in_training": False,
             "helion_default": {"status": "ok", "rank": 3, "rel": 0.5, "n_ok": 10},
             "helion_heuristic": None,
             "leave_family_out": bad, "leave_family_out_populations": mid,
             "shipped_bundle": good}]
    summary = {p: sp.summarize_rows(rows, p) for p in sp.PROTOCOLS}
    assert summary["leave_family_out"]["top1_geomean"] == pytest.approx(0.55)
    met = {(t["protocol"], t["name"]): t["met"] for t in sp.targets(summary)}
    assert met == {("leave_family_out", "top-1 above random-1 by >= 0.10"): False,
                   ("leave_family_out", "top-5 >= random best-of-8"): False,
                   ("leave_family_out_populations", "top-1 above random-1 by >= 0.10"): True,
                   ("leave_family_out_populations", "top-5 >= random best-of-8"): True,
                   ("shipped_bundle", "top-1 above random-1 by >= 0.10"): True,
                   ("shipped_bundle", "top-5 >= random best-of-8"): True}
    result = {**summary, "per_gpu": {"H100": summary}, "per_family": {"a": summary},
              "targets": sp.targets(summary), "command": "c", "seconds": {"total": 60.0},
              "helion_configs": {"all": sp.default_summary(rows)},
              "seeded_arms_included": False, "full_bundles": False, "excluded": [],
              "populations": rows,
              "training": {"logs": ["l"], "extra_logs": ["e"], "n_workloads": 1,
                           "fingerprint": "f", "matches_shipped_bundle": True,
                           "family_groups": []}}
    spr.render(result, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# Rank within a Helion search population")
    assert "| leave-family-out | H100 | 1 | 0.550 |" in text
    assert "| leave-family-out + other kernels' populations | all | 1 | 0.700 |" in text
    assert "is in 1 of 1 populations, speed there 0.500 (geomean), median rank at 30%" in text


LOG = ROOT / "data/online_h100/search_logs/seed_softmax_bf16_300x32000_autotune"


def test_a_real_log_backfilled_and_scored_by_the_shipped_bundle(tmp_path: Path) -> None:
    # A real H100 quick autotune (14 configs, 13 ok); the committed log is only copied.
    from helion_learned.models.bundle import ModelBundle

    for suffix in (".csv.gz", ".meta.jsonl.gz"):
        shutil.copy2(f"{LOG}{suffix}", tmp_path)
    pop = {"dir": tmp_path, "log": "x", "gpu": "H100", "kind": "seed_autotune",
           "suite_family": "softmax_bf16", "shape": "300x32000", "search_seed": None}
    got = sp.load_population(pop)
    assert not isinstance(got, str), got
    ds, settings = got
    assert settings["autotune_effort"] == "quick"
    assert any(p.name.endswith(".facts.jsonl") for p in tmp_path.iterdir())  # backfilled there
    g = ds.groups[0]
    assert (g.family, g.hardware, len(g.configs)) == ("softmax", "NVIDIA H100", 14)
    m = sp.score_population(g.perf_ms, sp.population_scores(ModelBundle.load(sp.SHIPPED), ds))
    assert (m["n_ok"], m["n_failed"]) == (13, 1)
    assert 0 < m["random1"] <= m["random8"] <= 1.0
    assert 0 < m["top1"] <= m["top5"] <= 1.0
    row = sp.population_row(pop, ds, settings, sp.online_rows("H100"))
    assert row["helion_default"]["status"] == "ok"  # the default is in the population
    assert row["date"].startswith("2026-11-27")


def test_mean_over_seeds_averages_only_the_model_metrics() -> None:
    a = sp.score_population(PERF, [4.0, 3.0, 0.0, 2.0, 1.0])
    b = sp.score_population(PERF, [1.0, 2.0, 0.0, 3.0, 4.0])
    m = sp.mean_over_seeds([a, b])
    assert m["top1"] == pytest.approx((a["top1"] + b["top1"]) / 2)
    assert m["per_seed"]["top1"] == [a["top1"], b["top1"]]
    # Summaries: each seed's geomean over populations, then their mean.
    rows = [{"p": m}, {"p": sp.mean_over_seeds([b, b])}]
    s = sp.summarize_rows(rows, "p")
    assert s["per_seed_top1_geomean"] == pytest.approx(
        [sp.geomean([a["top1"], b["top1"]]), b["top1"]])
    assert s["top1_geomean"] == pytest.approx(np.mean(s["per_seed_top1_geomean"]))
    assert (m["random1"], m["random8"], m["n_ok"]) == (a["random1"], a["random8"], a["n_ok"])
