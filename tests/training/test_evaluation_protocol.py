"""Evaluation protocol on real logs: the bind-time row and leave-shape-out folds across GPUs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from helion_learned.training.dataset import build_dataset
from helion_learned.training.evaluate import group_outcomes
from helion_learned.training.logs import load_logs
from helion_learned.training.logs.origins import load_origins

H100_BASE = Path(__file__).resolve().parents[2] / "data" / "h100" / "shard0_vm_1016"


@pytest.fixture(scope="module")
def recorded():
    logset = load_logs([H100_BASE])  # 2 real H100 workloads (add, attention) with origins
    return build_dataset(logset, origins=load_origins(logset.files))


def test_bind_time_pick_skips_random_configs(recorded) -> None:
    ds = recorded
    # Scores that prefer random configs: the overall pick is random, the bind-time one is not.
    scores = np.concatenate([[2.0 if o == "random" else 1.0 + 1e-4 * j
                              for j, o in enumerate(g.origins)] for g in ds.groups])
    for o in group_outcomes(ds, scores):
        g = ds.groups[o.group]
        assert g.origins[o.pick] == "random"
        bind = [j for j, tag in enumerate(g.origins)
                if any(t == "grid" or t.startswith("heuristic") or "default" in t
                       for t in tag.split("|"))]
        assert bind and len(bind) < len(g.origins)
        assert o.rel_bind_pick == g.rel[bind[-1]]  # the highest-scored of them


def test_no_origins_gives_no_bind_time_number(recorded) -> None:
    ds = recorded
    bare = dataclasses.replace(ds, groups=[dataclasses.replace(g, origins=[""] * len(g.origins))
                                           for g in ds.groups])
    outcomes = group_outcomes(bare, np.arange(len(ds.y), dtype=float))
    assert outcomes and all(math.isnan(o.rel_bind_pick) for o in outcomes)


def test_leave_shape_out_keeps_a_shapes_gpu_twins_in_one_fold() -> None:
    # Real logs of one shard on each GPU (round 1 of the H200 replayed H100 workloads).
    from helion_learned.training.evaluate import folds

    root = H100_BASE.parents[1]
    logset = load_logs([root / "h100", root / "h200" / "shard0_vm_540"])
    ds = build_dataset(logset)
    keys = [(g.family, g.input_shapes, g.dtypes) for g in ds.groups]
    twins = {k for k in keys if keys.count(k) > 1}
    assert twins and {g.hardware for g in ds.groups} == {"NVIDIA H100", "NVIDIA H200"}
    for seed in (0, 1):
        fold_of = {gi: f for f, test in enumerate(folds(ds, "leave_shape_out", seed=seed))
                   for gi in test}
        assert len(fold_of) == len(ds.groups)
        for key in twins:
            assert len({fold_of[gi] for gi, k in enumerate(keys) if k == key}) == 1, key


def test_runtime_buckets_split_the_groups_by_best_time(recorded) -> None:
    from helion_learned.training.report.evaluation import RUNTIME_BUCKETS
    from helion_learned.training.report.evaluation import _summaries

    ds = recorded
    rows = [{"family": g.family, "best_ms": g.best_ms,
             "rel": dict.fromkeys(("learned", "helion_default", "helion_heuristic", "random_1",
                                   "random_8", "nearest_neighbour", "oracle"), float(g.rel[0])),
             "learned_bind_time": math.nan} for g in ds.groups]
    rows.append({**rows[0], "best_ms": 0.004})  # a 4 us twin of the add workload
    per_runtime = _summaries(rows)["per_runtime"]
    assert set(per_runtime) == {"< 15 us", ">= 100 us"}  # add 121 us, attention 1.5 ms
    assert [per_runtime[k]["learned"]["n"] for k in ("< 15 us", ">= 100 us")] == [1, 2]
    assert all(label in {b[2] for b in RUNTIME_BUCKETS} for label in per_runtime)


def test_grouped_family_folds_hold_whole_families_out() -> None:
    # The unseen-kernel gate's folds (training.train.GATE_FAMILY_FOLDS) on all real H100 logs.
    from helion_learned.training.evaluate import folds
    from helion_learned.training.evaluate import grouped_family_folds

    ds = build_dataset(load_logs([H100_BASE.parent]))
    per_family = folds(ds, "leave_family_out")
    assert len(per_family) == 21
    grouped = grouped_family_folds(ds, 7, seed=0)
    assert len(grouped) == 7
    together = np.concatenate(grouped)
    assert sorted(together.tolist()) == sorted(np.concatenate(per_family).tolist())  # a partition
    fold_of = {int(g): f for f, test in enumerate(grouped) for g in test}
    for fam in set(ds.families.tolist()):  # no family split across folds
        assert len({fold_of[int(g)] for g in np.flatnonzero(ds.families == fam)}) == 1
    assert [t.tolist() for t in grouped_family_folds(ds, 7, seed=0)] == [t.tolist() for t in grouped]
    assert [t.tolist() for t in grouped_family_folds(ds, 7, seed=1)] != [t.tolist() for t in grouped]
    # No more folds asked than families: one family per fold, as the report's protocol.
    assert [t.tolist() for t in grouped_family_folds(ds, 21)] == [t.tolist() for t in per_family]
