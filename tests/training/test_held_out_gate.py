"""The gate checked on workloads its threshold was not chosen on (report: held_out), on
out-of-fold outcomes of real H100 logs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from helion_learned.models.calibration import choose_threshold
from helion_learned.training.dataset import build_dataset
from helion_learned.training.evaluate import group_outcomes
from helion_learned.training.evaluate import oof_scores
from helion_learned.training.logs import load_logs
from helion_learned.training.report.evaluation import held_out_threshold
from helion_learned.training.report.gate_text import held_out_gate_text
from helion_learned.training.report.render import summary_json
from helion_learned.training.train import cross_fitted_confidence

H100 = Path(__file__).resolve().parents[2] / "data" / "h100"
SMALL = {"n_estimators": 30, "max_depth": 3, "learning_rate": 0.2, "n_jobs": 1,
         "random_state": 0}


@pytest.fixture(scope="module")
def outcomes() -> list:
    bases = sorted({p.name.split(".")[0] for p in H100.glob("shard*.csv.gz")})[:10]
    ds = build_dataset(load_logs([H100 / f"{b}.csv.gz" for b in bases]))
    out = group_outcomes(ds, oof_scores(ds, "leave_shape_out", SMALL, experts=False))
    hits = np.array([o.hit for o in out])
    assert len(out) >= 20 and 0 < hits.sum() < len(out)  # both kinds of pick, or nothing to check
    return out


def test_a_confidence_that_knows_the_hits_fires_on_held_out_hits_only(outcomes) -> None:
    hits = np.array([o.hit for o in outcomes])
    conf = hits + 0.01 * np.arange(len(hits)) / len(hits)  # every hit above every miss
    held = held_out_threshold(outcomes, conf, wrong_budget=0.05, repeats=4)
    assert held["precision"] == 1.0
    # Each split's threshold is the lowest hit of its 4/5; held-out hits below it stay unfired.
    assert 0.5 * hits.mean() < held["coverage"] <= hits.mean()
    assert held["n_fired"] == round(held["coverage"] * len(hits) * 4)


def test_a_confidence_that_inverts_the_hits_never_fires_a_hit(outcomes) -> None:
    hits = np.array([o.hit for o in outcomes])
    held = held_out_threshold(outcomes, 1.0 - hits, wrong_budget=0.05, repeats=4)
    # No threshold keeps misses under 5 % on the chosen part, so nothing fires anywhere.
    assert held["n_fired"] == 0 and math.isnan(held["precision"])
    assert held_out_gate_text(("leave_shape_out", {"threshold": {"held_out": held}})) \
        .count("fires on none")


def test_real_confidences_and_the_report_fields(outcomes) -> None:
    conf = cross_fitted_confidence(outcomes, seed=0)
    hits = np.array([o.hit for o in outcomes])
    held = held_out_threshold(outcomes, conf, wrong_budget=0.2, repeats=3)
    in_sample = choose_threshold(conf, hits, wrong_budget=0.2)
    assert held["repeats"] == 3 and 0 <= held["coverage"] <= 1
    if held["n_fired"]:  # the worst fired pick is one of the outcomes' picks
        worst = min(o.rel_pick for o in outcomes)
        assert 1.0 <= held["max_slowdown"] <= (math.inf if worst <= 0 else 1 / worst)
    # The same call is deterministic (seeded splits).
    assert held == held_out_threshold(outcomes, conf, wrong_budget=0.2, repeats=3)
    result = {"protocols": {"leave_shape_out": {"threshold": {
        "value": in_sample.threshold, "precision": in_sample.precision,
        "coverage": in_sample.coverage, "max_slowdown": 1.0, "held_out": held}}}}
    thr = summary_json(result)["threshold"]
    for k in ("precision", "coverage", "max_slowdown"):
        v = held[k]
        # JSON has no NaN or inf: nothing fired (NaN) or a fired pick failed (inf) reads None.
        assert thr[f"held_out_{k}"] == (None if isinstance(v, float) and not math.isfinite(v)
                                        else v)


def test_behind_gate_geomean_mixes_fired_picks_with_the_fallback(outcomes) -> None:
    hits = np.array([o.hit for o in outcomes])
    picks = np.array([o.rel_pick for o in outcomes])
    fallback = np.full(len(outcomes), 0.5)
    # A gate that fires on every hit and nothing else: the user gets the hits' speeds where it
    # fires and the fallback elsewhere; a gate that never fires leaves the fallback everywhere.
    knows = held_out_threshold(outcomes, hits + 0.01 * np.arange(len(hits)) / len(hits),
                               wrong_budget=0.05, repeats=4, fallback=fallback)
    assert 0.5 < knows["behind_gate_geomean"] <= math.exp(np.mean(np.log(np.where(
        hits, picks, 0.5))))
    never = held_out_threshold(outcomes, 1.0 - hits, wrong_budget=0.05, repeats=4,
                               fallback=fallback)
    assert never["behind_gate_geomean"] == pytest.approx(0.5)
    assert "run at 0.500 of the best" in held_out_gate_text(
        ("leave_shape_out", {"threshold": {"held_out": never}}))
    assert "behind_gate_geomean" not in held_out_threshold(outcomes, 1.0 - hits,
                                                           wrong_budget=0.05, repeats=2)


def test_vs_default_counts_picks_beyond_five_percent_either_way() -> None:
    from helion_learned.training.report.evaluation import vs_default
    from helion_learned.training.report.gate_text import vs_default_text

    # Hand-made rows (not measurements): learned vs Helion default relative speeds.
    rows = [{"rel": {"learned": lp, "helion_default": d}}
            for lp, d in ((1.0, 0.5), (0.9, 1.0), (0.96, 1.0), (0.7, float("nan")), (1.0, 1.0))]
    v = vs_default(rows)
    assert (v["n"], v["slower"], v["faster"]) == (4, 1, 1) and v["worst_ratio"] == pytest.approx(0.9)
    text = vs_default_text({"leave_shape_out": {"vs_default": v}})[0]
    assert "slower by more than 5.0% on 1 of 4 workloads, faster by more than that on 1" in text
    assert vs_default_text({"leave_shape_out": {}}) == []


@pytest.fixture(scope="module")
def outcomes_with_fallback() -> list:
    from helion_learned.training.logs.origins import load_origins

    files = [H100 / f"{b}.csv.gz" for b in
             sorted({p.name.split(".")[0] for p in H100.glob("shard*.csv.gz")})[:10]]
    logset = load_logs(files)
    ds = build_dataset(logset, origins=load_origins(logset.files))
    return group_outcomes(ds, oof_scores(ds, "leave_shape_out", SMALL, experts=False))


def test_the_gate_is_measured_against_helions_default(outcomes_with_fallback) -> None:
    from helion_learned.models.calibration import DEFAULT_GATE

    known = [o for o in outcomes_with_fallback if o.rel_fallback == o.rel_fallback]
    assert len(known) >= 0.9 * len(outcomes_with_fallback)  # the collector tags the default
    for o in known:  # safe: not > 5 % slower than the default; gate_hit: not > 2 % slower
        assert o.safe == (o.rel_pick * (1 + DEFAULT_GATE.slowdown_limit) >= o.rel_fallback)
        assert o.gate_hit == (o.rel_pick * (1 + DEFAULT_GATE.margin) >= o.rel_fallback)
    # A pick far from the best can still be a win over the default (the old gate's miss).
    assert any(o.safe and not o.hit for o in known)


def test_delivered_is_what_autotune_off_gets(outcomes_with_fallback) -> None:
    outcomes = [o for o in outcomes_with_fallback if o.rel_fallback == o.rel_fallback]
    safe = np.array([o.safe for o in outcomes])
    fallback = np.array([o.rel_fallback for o in outcomes])
    picks = np.array([o.rel_pick for o in outcomes])
    # No wrong-pick budget: the threshold is the lowest safe pick's confidence.
    knows = held_out_threshold(outcomes, safe + 0.01 * np.arange(len(safe)) / len(safe),
                               wrong_budget=0.0, repeats=4, fallback=fallback)
    d = knows["delivered"]
    assert set(d) == {"autotune_off_geomean", "autotune_off_worst",
                      "slower_than_default_5pct_share", "coverage"}
    # Fired only on safe picks, the default elsewhere: never > 5 % slower than the default,
    # and at least as fast overall as the default alone.
    assert d["slower_than_default_5pct_share"] == 0.0
    default_geomean = math.exp(np.mean(np.log(fallback)))
    assert d["autotune_off_geomean"] >= default_geomean * 0.999
    assert d["autotune_off_worst"] >= float(np.min(np.minimum(picks, fallback)))
    assert d["coverage"] == knows["coverage"] > 0
    # A confidence that inverts it fires on unsafe picks first: some are > 5 % slower.
    inverted = held_out_threshold(outcomes, 1.0 - safe, wrong_budget=1.0, repeats=2,
                                  fallback=fallback)
    assert inverted["delivered"]["slower_than_default_5pct_share"] > 0
